// Conformance: email two-factor through the official REST client (@rocket.chat/api-client).
// Usage: RC_URL=... RC_USERNAME=... RC_PASSWORD=... node api-client-email2fa.mjs
// The emailed codes arrive on stdin, one per line, as the caller reads them from the stand-in's
// outbox (a mailbox stand-in): the 2FA handler waits for a code it has not used yet.
// Prints one JSON line (lib/common.mjs protocol).
//
// Expected shapes: apps/meteor/app/2fa/server/code/EmailCheck.ts (details.method "email",
// codeGenerated, emailOrUsername), app/2fa/server/loginHandler.ts (login answers 401 totp-required),
// packages/api-client/src/index.ts (handler args: method, emailOrUsername, invalidAttempt).

import { createInterface } from 'node:readline';
import { CheckRunner, crash, expect, readConfig, withTimeout } from './lib/common.mjs';
import { brief, call, newClient, ok, recordRequests } from './lib/rest.mjs';
import { twoFactorHandler } from './lib/auth-checks.mjs';

const SCRIPT = 'api-client-email2fa';

/** Codes pushed on stdin; `next()` resolves with the newest one not handed out before. */
function mailbox() {
	const codes = [];
	const used = new Set();
	const waiters = [];
	createInterface({ input: process.stdin }).on('line', (line) => {
		const code = line.trim();
		if (code) {
			codes.push(code);
			waiters.splice(0).forEach((wake) => wake());
		}
	});
	const pick = () => [...codes].reverse().find((c) => !used.has(c));
	return {
		async next(ms) {
			const deadline = Date.now() + ms;
			for (let code = pick(); ; code = pick()) {
				if (code) {
					used.add(code);
					return code;
				}
				if (Date.now() > deadline) {
					throw new Error('no new email code arrived');
				}
				await new Promise((resolve) => {
					waiters.push(resolve);
					setTimeout(resolve, 100);
				});
			}
		},
	};
}

async function main() {
	const config = readConfig();
	const runner = new CheckRunner(SCRIPT, [config.password]);
	const inbox = mailbox();
	const requests = [];
	const anon = newClient(config);
	recordRequests(anon, requests);
	const state = {};

	await runner.check('login without code -> totp-required, method email, code sent', async () => {
		const res = await call(anon, 'post', '/v1/login', { user: config.username, password: config.password });
		expect(res.status === 401 && res.body.error === 'totp-required', `${res.status} ${brief(res.body)}`);
		const details = res.body.details || {};
		expect(details.method === 'email' && details.codeGenerated === true, `details ${JSON.stringify(details)}`);
		expect(Array.isArray(details.availableMethods) && details.availableMethods.includes('email'), `availableMethods ${JSON.stringify(details.availableMethods)}`);
	});

	await runner.check('login with the emailed code', async () => {
		const code = await inbox.next(config.timeoutMs);
		const body = await ok(anon, 'post', '/v1/login', { user: config.username, password: config.password, code });
		runner.addSecret(body.data.authToken);
		state.credentials = { 'X-User-Id': body.data.userId, 'X-Auth-Token': body.data.authToken };
	}, { requires: ['login without code -> totp-required, method email, code sent'] });

	await runner.check('2FA route: handler asked for method email (with emailOrUsername), answered from the mailbox', async () => {
		const client = newClient(config, state.credentials);
		recordRequests(client, requests);
		const seen = [];
		const tfa = twoFactorHandler(async (args) => {
			seen.push(args.emailOrUsername);
			return inbox.next(config.timeoutMs);
		});
		client.handleTwoFactorChallenge(tfa.handler);
		const body = await withTimeout(ok(client, 'post', '/v1/users.generatePersonalAccessToken', { tokenName: 'email-2fa', bypassTwoFactor: false }), config.timeoutMs * 2, 'PAT');
		runner.addSecret(body.token);
		expect(JSON.stringify(tfa.calls) === JSON.stringify([{ method: 'email', invalidAttempt: false }]), `handler calls ${JSON.stringify(tfa.calls)}`);
		expect(typeof seen[0] === 'string' && seen[0].length > 0, `emailOrUsername ${JSON.stringify(seen[0])}`);
	}, { requires: ['login with the emailed code'] });

	runner.finish({ requests });
}

main().catch((err) => crash(SCRIPT, err));
