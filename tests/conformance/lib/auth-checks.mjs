// Login and 2FA as the official REST client sees them.
//
// Rocket.Chat sources for the expectations: apps/meteor/app/api/server/v1/misc.ts + api.ts (login
// answers 401 {status:"error", error:"totp-required", details:{method}}), app/2fa/server/code/index.ts
// (checkCodeForUser: remember-for keyed by token + User-Agent + IP, PAT bypassTwoFactor, password
// fallback with sha256 hex) and packages/api-client/src/index.ts (the handler/retry loop tested here).

import { brief, call, newClient, ok, recordRequests } from './rest.mjs';
import { expect, sha256Hex, totpCode, wrongTotpCode } from './common.mjs';

/** A 2FA handler for RestClient.handleTwoFactorChallenge that records how it was asked. */
export function twoFactorHandler(answer) {
	const calls = [];
	const handler = async (args) => {
		calls.push({ method: args.method, invalidAttempt: Boolean(args.invalidAttempt) });
		return answer(args, calls.length);
	};
	return { handler, calls };
}

function credentialsOf(loginBody) {
	return { 'X-User-Id': loginBody.data.userId, 'X-Auth-Token': loginBody.data.authToken };
}

export async function runAuthChecks(runner, config, requests) {
	const anon = newClient(config);
	recordRequests(anon, requests);
	const admin = { username: config.username };

	await runner.check('login without code answers 401 totp-required', async () => {
		const res = await call(anon, 'post', '/v1/login', { user: config.username, password: config.password });
		expect(res.status === 401, `expected 401, got ${res.status} ${brief(res.body)}`);
		expect(res.body.status === 'error' && res.body.error === 'totp-required', `body ${brief(res.body)}`);
		expect(res.body.details && res.body.details.method === 'totp', `details ${JSON.stringify(res.body.details)}`);
	});

	const login = await runner.check('login with TOTP code in body', async () => {
		const body = await ok(anon, 'post', '/v1/login', { user: config.username, password: config.password, code: totpCode(config) });
		expect(body.status === 'success', `status ${body.status}`);
		expect(body.data && body.data.userId && body.data.authToken, 'data.userId / data.authToken missing');
		expect(body.data.me && body.data.me.username === config.username, 'data.me.username differs');
		runner.addSecret(body.data.authToken);
		admin.id = body.data.userId;
		return body;
	});

	const client = newClient(config, login && credentialsOf(login));
	recordRequests(client, requests);
	const tfa = twoFactorHandler(() => totpCode(config));
	client.handleTwoFactorChallenge(tfa.handler);

	await runner.check('me', async () => {
		const me = await ok(client, 'get', '/v1/me');
		expect(me._id === admin.id && me.username === config.username, `me is ${me._id}/${me.username}`);
		expect(me.success === true, 'success flag missing');
		expect(me.services === undefined || me.services.password === undefined || typeof me.services.password.bcrypt === 'undefined', 'password hash leaked');
	}, { requires: ['login with TOTP code in body'] });

	const target = await runner.check('users.create (no 2FA)', async () => {
		const password = `Pw-${Math.random().toString(36).slice(2)}`;
		runner.addSecret(password);
		const username = `conf.target.${Date.now().toString(36)}`;
		const body = await ok(client, 'post', '/v1/users.create', {
			email: `${username}@example.org`, name: 'Conformance Target', password, username,
			verified: true, joinDefaultChannels: false, roles: ['user'],
		});
		expect(body.user && body.user._id && body.user.username === username, 'user._id/username missing');
		expect(tfa.calls.length === 0, 'users.create must not ask for 2FA');
		return { detail: username, id: body.user._id, username };
	}, { requires: ['login with TOTP code in body'] });

	await runner.check('users.update: totp-required -> handler -> retried with x-2fa-code', async () => {
		const body = await ok(client, 'post', '/v1/users.update', { userId: target.id, data: { name: 'Renamed Once' } });
		expect(body.user && body.user.name === 'Renamed Once', `user.name is ${body.user && body.user.name}`);
		expect(tfa.calls.length === 1, `handler called ${tfa.calls.length} times (0 means no challenge: is the account older than RememberFor?)`);
		expect(tfa.calls[0].method === 'totp' && !tfa.calls[0].invalidAttempt, `handler args ${JSON.stringify(tfa.calls[0])}`);
	}, { requires: ['users.create (no 2FA)'] });

	await runner.check('users.update again: remembered, no second challenge', async () => {
		const body = await ok(client, 'post', '/v1/users.update', { userId: target.id, data: { name: 'Renamed Twice' } });
		expect(body.user.name === 'Renamed Twice', 'name not updated');
		expect(tfa.calls.length === 1, `handler called again (${tfa.calls.length} calls in total)`);
	}, { requires: ['users.update: totp-required -> handler -> retried with x-2fa-code'] });

	await runner.check('wrong code: totp-invalid -> handler asked again with invalidAttempt', async () => {
		const fresh = await ok(anon, 'post', '/v1/login', { user: config.username, password: config.password, code: totpCode(config) });
		runner.addSecret(fresh.data.authToken);
		const second = newClient(config, credentialsOf(fresh));
		recordRequests(second, requests);
		const retry = twoFactorHandler((args, n) => (n === 1 ? wrongTotpCode(config) : totpCode(config)));
		second.handleTwoFactorChallenge(retry.handler);
		const body = await ok(second, 'post', '/v1/users.update', { userId: target.id, data: { name: 'Renamed Thrice' } });
		expect(body.user.name === 'Renamed Thrice', 'name not updated');
		const got = JSON.stringify(retry.calls);
		expect(got === JSON.stringify([{ method: 'totp', invalidAttempt: false }, { method: 'totp', invalidAttempt: true }]), `handler calls ${got}`);
	}, { requires: ['users.create (no 2FA)'] });

	await runner.check('PAT with bypassTwoFactor skips the challenge', async () => {
		const generated = await ok(client, 'post', '/v1/users.generatePersonalAccessToken', { tokenName: `conf-${Date.now()}`, bypassTwoFactor: true });
		expect(typeof generated.token === 'string' && generated.token.length > 10, 'no token returned');
		runner.addSecret(generated.token);
		const pat = newClient(config, { 'X-User-Id': admin.id, 'X-Auth-Token': generated.token });
		recordRequests(pat, requests);
		const never = twoFactorHandler(() => totpCode(config));
		pat.handleTwoFactorChallenge(never.handler);
		const body = await ok(pat, 'post', '/v1/users.update', { userId: target.id, data: { name: 'Renamed By PAT' } });
		expect(body.user.name === 'Renamed By PAT', 'name not updated');
		expect(never.calls.length === 0, `2FA handler was called ${never.calls.length} times for a bypassTwoFactor PAT`);
	}, { requires: ['users.update: totp-required -> handler -> retried with x-2fa-code'] });

	if (config.plainUsername) {
		await runner.check('password fallback: method "password" answered with sha256 hex', async () => {
			const body = await ok(anon, 'post', '/v1/login', { user: config.plainUsername, password: config.plainPassword });
			runner.addSecret(body.data.authToken);
			const plain = newClient(config, credentialsOf(body));
			recordRequests(plain, requests);
			const fallback = twoFactorHandler(() => sha256Hex(config.plainPassword));
			plain.handleTwoFactorChallenge(fallback.handler);
			const generated = await ok(plain, 'post', '/v1/users.generatePersonalAccessToken', { tokenName: 'fallback', bypassTwoFactor: false });
			runner.addSecret(generated.token);
			const got = JSON.stringify(fallback.calls);
			expect(got === JSON.stringify([{ method: 'password', invalidAttempt: false }]), `handler calls ${got}`);
		});
	}

	return { client, admin, target };
}
