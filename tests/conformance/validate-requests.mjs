// Validate REST requests against Rocket.Chat's own request schemas (@rocket.chat/rest-typings).
// Usage: node --import ./register.mjs validate-requests.mjs < requests.json
// Input: a JSON array of {"method": "POST", "path": "/api/v1/users.create", "body": {...}} or
//        {"method": "GET", "path": "/api/v1/users.info", "query": {"userId": "..."}}.
// Output (one JSON line): {"script", "ok", "results": [{index, endpoint, covered, checks:[{release,
// validator, valid, errors}]}], "table": [endpoint keys]}; ok = every covered request valid in every
// release that has a validator for it. Exit 0 ok, 1 invalid requests, 2 broken input.

import { readFileSync } from 'node:fs';
import { TABLE, loadValidators, lookup, runValidator } from './rest-validators.mjs';

const SCRIPT = 'validate-requests';

function validateAll(validators, requests) {
	return requests.map((request, index) => {
		const { key, entry } = lookup(validators, request.method, request.path);
		if (!entry) {
			return { index, endpoint: key, covered: false, checks: [] };
		}
		const params = entry.where === 'query' ? request.query ?? {} : request.body ?? {};
		return { index, endpoint: key, covered: true, checks: entry.validators.map((v) => runValidator(v, params)) };
	});
}

async function main() {
	const input = process.argv[2] ? readFileSync(process.argv[2], 'utf8') : readFileSync(0, 'utf8');
	const requests = JSON.parse(input);
	if (!Array.isArray(requests)) {
		throw new Error('input must be a JSON array of requests');
	}
	const validators = await loadValidators();
	const results = validateAll(validators, requests);
	const ok = results.every((r) => r.checks.every((c) => c.valid));
	const line = JSON.stringify({ script: SCRIPT, ok, results, table: TABLE.map(([key]) => key) });
	process.stdout.write(`${line}\n`, () => process.exit(ok ? 0 : 1));
}

main().catch((err) => {
	process.stdout.write(`${JSON.stringify({ script: SCRIPT, ok: false, error: String(err && err.stack || err), results: [] })}\n`, () => process.exit(2));
});
