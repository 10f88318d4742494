// Validate REST error bodies against Rocket.Chat's own response schemas for typed routes
// (@rocket.chat/rest-typings 8.8.1 dist/v1/Ajv.js: validateBadRequestErrorResponse & co.), which
// the 7.x/8.x ApiClass declares for 400/401/403/404/500 answers.
// Usage: node --import ./register.mjs validate-responses.mjs < responses.json
// Input: JSON array of {"status": 400, "body": {...}}. Output (one JSON line): {"script", "ok",
// "results": [{index, status, validator, valid, errors}]}. Exit 0 ok, 1 some invalid, 2 broken input.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

const SCRIPT = 'validate-responses';
const require = createRequire(import.meta.url);
const ajvFile = join(dirname(require.resolve('@rocket.chat/rest-typings/package.json')), 'dist', 'v1', 'Ajv.js');

const BY_STATUS = {
	400: 'validateBadRequestErrorResponse',
	401: 'validateUnauthorizedErrorResponse',
	403: 'validateForbiddenErrorResponse',
	404: 'validateNotFoundErrorResponse',
	500: 'validateInternalErrorResponse',
};

async function main() {
	const items = JSON.parse(readFileSync(process.argv[2] || 0, 'utf8'));
	if (!Array.isArray(items)) {
		throw new Error('input must be a JSON array of {status, body}');
	}
	const validators = await import(pathToFileURL(ajvFile).href);
	const results = items.map(({ status, body }, index) => {
		const name = BY_STATUS[status];
		if (!name) {
			return { index, status, validator: null, valid: false, errors: [`no error-response schema for status ${status}`] };
		}
		const fn = validators[name];
		const valid = Boolean(fn(structuredClone(body)));
		const errors = valid ? [] : fn.errors.map((e) => `${e.instancePath || '/'} ${e.message}${e.params && e.params.additionalProperty ? ` '${e.params.additionalProperty}'` : ''}`);
		return { index, status, validator: name, valid, errors };
	});
	const ok = results.every((r) => r.valid);
	process.stdout.write(`${JSON.stringify({ script: SCRIPT, ok, results })}\n`, () => process.exit(ok ? 0 : 1));
}

main().catch((err) => {
	process.stdout.write(`${JSON.stringify({ script: SCRIPT, ok: false, error: String(err && err.stack || err), results: [] })}\n`, () => process.exit(2));
});
