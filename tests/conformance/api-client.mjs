// Conformance: drive the stand-in with Rocket.Chat's official REST client (@rocket.chat/api-client).
// Usage: RC_URL=... RC_USERNAME=... RC_PASSWORD=... RC_TOTP_SECRET=... [RC_CLOCK_OFFSET=s]
//        [RC_PLAIN_USERNAME=... RC_PLAIN_PASSWORD=...] node api-client.mjs
// Prints one JSON line (see lib/common.mjs), including `requests`: every request the client sent,
// with known secrets redacted, so the caller can validate them against rest-typings.

import { CheckRunner, crash, readConfig, sha256Hex } from './lib/common.mjs';
import { runAuthChecks } from './lib/auth-checks.mjs';
import { runAdminChecks } from './lib/admin-checks.mjs';

const SCRIPT = 'api-client';

async function main() {
	const config = readConfig();
	config.plainUsername = process.env.RC_PLAIN_USERNAME || '';
	config.plainPassword = process.env.RC_PLAIN_PASSWORD || '';
	const secrets = [config.password, config.totpSecret, config.plainPassword];
	secrets.push(...[config.password, config.plainPassword].filter(Boolean).map(sha256Hex));
	const runner = new CheckRunner(SCRIPT, secrets);
	const requests = [];
	const { client } = await runAuthChecks(runner, config, requests);
	await runAdminChecks(runner, config, client);
	runner.finish({ requests });
}

main().catch((err) => crash(SCRIPT, err));
