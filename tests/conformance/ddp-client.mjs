// Conformance: drive the stand-in's realtime API (/websocket, DDP) with Rocket.Chat's official
// @rocket.chat/ddp-client (DDPSDK). Needs the global WebSocket: `node --experimental-websocket` on 20.
// Usage: RC_URL=... RC_USERNAME=... RC_PASSWORD=... RC_TOTP_SECRET=... [RC_FAKE_CONTROL=1]
//        node --experimental-websocket ddp-client.mjs   (RC_FAKE_CONTROL: use the stand-in's /_fake API)
// Prints one JSON line (lib/common.mjs protocol).
//
// Expected shapes: apps/meteor/app/2fa/server/loginHandler.ts (login {totp:{login, code}}, error
// totp-required with details), packages/ddp-client/src/types/streams.ts and
// apps/meteor/server/modules/notifications/notifications.module.ts (stream names, event args,
// stream-notify-user only for one's own uid), apps/meteor/app/authorization/server/methods/
// addUserToRole.ts (roles-change event), apps/meteor/app/lib/server/methods/addUsersToRoom.ts ('au').

import { DDPSDK } from '@rocket.chat/ddp-client';
import { CheckRunner, crash, expect, readConfig, sha256Hex, totpCode, withTimeout } from './lib/common.mjs';

const SCRIPT = 'ddp-client';

/** Resolve with the first stream event that `match` accepts. */
function nextEvent(sdk, stream, key, match, ms, what) {
	let sub;
	const promise = new Promise((resolve) => {
		sub = sdk.stream(stream, key, (...args) => {
			if (match(...args)) {
				resolve(args);
			}
		});
	});
	return { sub, event: withTimeout(promise, ms, what) };
}

function errorCode(err) {
	return err && typeof err === 'object' ? err.error : String(err);
}

async function main() {
	const config = readConfig();
	if (typeof WebSocket === 'undefined') {
		throw new Error('no global WebSocket: run node with --experimental-websocket');
	}
	config.controlApi = process.env.RC_FAKE_CONTROL === '1';
	config.plainUsername = process.env.RC_PLAIN_USERNAME || '';
	config.plainPassword = process.env.RC_PLAIN_PASSWORD || '';
	const secrets = [config.password, config.totpSecret, config.plainPassword];
	const runner = new CheckRunner(SCRIPT, [...secrets, ...secrets.filter(Boolean).map(sha256Hex)]);
	const t = config.timeoutMs;
	const digest = { digest: sha256Hex(config.password), algorithm: 'sha-256' };
	// Reconnects allowed: the drop-websockets check relies on the SDK's own reconnect + resume.
	const sdk = DDPSDK.create(config.url, { retryCount: 3, retryTime: 100 });
	const state = {};

	await runner.check('connect', async () => {
		await withTimeout(sdk.connection.connect(), t, 'connected');
		expect(sdk.connection.status === 'connected' && typeof sdk.connection.session === 'string', `status ${sdk.connection.status}`);
	});
	const connected = { requires: ['connect'] };

	await runner.check('login with password digest alone -> totp-required', async () => {
		try {
			await withTimeout(sdk.account.loginWithPassword(config.username, digest.digest), t, 'login');
		} catch (err) {
			expect(errorCode(err) === 'totp-required', `error ${JSON.stringify(err && err.error)} reason ${err && err.reason}`);
			expect(err.details && err.details.method === 'totp', `details ${JSON.stringify(err.details)}`);
			return;
		}
		throw new Error('login succeeded without a TOTP code');
	}, connected);

	await runner.check('login with TOTP wrapper', async () => {
		const request = { totp: { login: { user: { username: config.username }, password: digest }, code: totpCode(config) } };
		const result = await withTimeout(sdk.client.callAsyncWithOptions('login', { wait: true }, request), t, 'login totp');
		expect(result && result.id && result.token, 'login result lacks id/token');
		expect(result.tokenExpires && typeof result.tokenExpires.$date === 'number', `tokenExpires ${JSON.stringify(result.tokenExpires)}`);
		runner.addSecret(result.token);
		sdk.account.saveCredentials(result.id, result.token, result.tokenExpires.$date);
		state.uid = result.id;
		state.token = result.token;
	}, connected);
	const loggedIn = { requires: ['login with TOTP wrapper'] };

	await runner.check('DDP token works for REST (sdk.rest /v1/me)', async () => {
		const me = await withTimeout(sdk.rest.get('/v1/me'), t, 'me');
		expect(me._id === state.uid && me.username === config.username, `me ${me._id}`);
	}, loggedIn);

	await runner.check('resume login on a second connection', async () => {
		const other = DDPSDK.create(config.url, { retryCount: 0, retryTime: 100 });
		try {
			await withTimeout(other.connection.connect(), t, 'second connect');
			const result = await withTimeout(other.account.loginWithToken(state.token), t, 'resume');
			expect(result.id === state.uid, 'resume login returned another user');
		} finally {
			other.connection.close();
		}
	}, loggedIn);

	if (config.plainUsername) {
		await runner.check('login with password digest (account without 2FA)', async () => {
			const plain = DDPSDK.create(config.url, { retryCount: 0, retryTime: 100 });
			try {
				await withTimeout(plain.connection.connect(), t, 'plain connect');
				await withTimeout(plain.account.loginWithPassword(config.plainUsername, sha256Hex(config.plainPassword)), t, 'plain login');
				expect(typeof plain.account.uid === 'string' && plain.account.user && plain.account.user.token, 'no uid/token after login');
				runner.addSecret(plain.account.user.token);
			} finally {
				plain.connection.close();
			}
		}, connected);
	}

	await runner.check('create a target user over REST', async () => {
		const username = `conf.ddp.${Date.now().toString(36)}`;
		const password = `Pw-${Math.random().toString(36).slice(2)}`;
		runner.addSecret(password);
		const body = await withTimeout(sdk.rest.post('/v1/users.create', {
			username, email: `${username}@example.org`, name: 'DDP Target', password, joinDefaultChannels: false,
		}), t, 'users.create');
		state.target = { id: body.user._id, username };
		return username;
	}, loggedIn);
	const withTarget = { requires: ['create a target user over REST'] };

	await runner.check('roles-change event after authorization:addUserToRole', async () => {
		const { sub, event } = nextEvent(sdk, 'notify-logged', 'roles-change', (e) => e && e.u && e.u._id === state.target.id, t, 'roles-change');
		try {
			await withTimeout(sub.ready(), t, 'ready stream-notify-logged');
			const result = await withTimeout(sdk.call('authorization:addUserToRole', 'bot', state.target.username), t, 'addUserToRole');
			expect(result === true, `method result ${JSON.stringify(result)}`);
			const [payload] = await event;
			expect(payload.type === 'added' && payload._id === 'bot', `event ${JSON.stringify(payload)}`);
			expect(payload.u.username === state.target.username, 'event u.username differs');
		} finally {
			sub.stop();
		}
	}, withTarget);

	await runner.check("stream-room-messages 'au' after addUsersToRoom", async () => {
		const { sub, event } = nextEvent(sdk, 'room-messages', 'GENERAL', (m) => m && m.t === 'au' && m.msg === state.target.username, t, 'au message');
		try {
			await withTimeout(sub.ready(), t, 'ready stream-room-messages');
			await withTimeout(sdk.call('addUsersToRoom', { rid: 'GENERAL', users: [state.target.username] }), t, 'addUsersToRoom');
			const [message] = await event;
			expect(message.rid === 'GENERAL' && message.u && message.u._id === state.uid, `message ${JSON.stringify({ rid: message.rid, u: message.u })}`);
		} finally {
			sub.stop();
		}
	}, withTarget);

	await runner.check('own stream-notify-user subscriptions-changed after channels.create', async () => {
		const name = `conf-ddp-${Date.now().toString(36)}`;
		const { sub, event } = nextEvent(sdk, 'notify-user', `${state.uid}/subscriptions-changed`, (action, doc) => action === 'inserted' && doc && doc.name === name, t, 'subscriptions-changed');
		try {
			await withTimeout(sub.ready(), t, 'ready stream-notify-user');
			const body = await withTimeout(sdk.rest.post('/v1/channels.create', { name }), t, 'channels.create');
			const [, doc] = await event;
			expect(doc.rid === body.channel._id && doc.t === 'c' && doc.u && doc.u._id === state.uid, `subscription ${JSON.stringify({ rid: doc.rid, t: doc.t, u: doc.u })}`);
			expect(Array.isArray(doc.roles) && doc.roles.includes('owner'), `creator roles ${JSON.stringify(doc.roles)}`);
		} finally {
			sub.stop();
		}
	}, loggedIn);

	// Before any REST 2FA success: a validated code is remembered per token + User-Agent + IP, and
	// sdk.rest shares the DDP login token and this process's User-Agent.
	await runner.check('2FA-wrapped method: totp-required, then trailing {twoFactorCode, twoFactorMethod}', async () => {
		const change = { _id: state.target.id, name: 'Named Over DDP' };
		try {
			await withTimeout(sdk.call('insertOrUpdateUser', change), t, 'insertOrUpdateUser');
			throw new Error('insertOrUpdateUser succeeded without a second factor');
		} catch (err) {
			expect(errorCode(err) === 'totp-required', `first call error ${JSON.stringify(err && err.error)} ${err && err.message}`);
			expect(err.details && err.details.method === 'totp', `details ${JSON.stringify(err.details)}`);
		}
		const result = await withTimeout(sdk.call('insertOrUpdateUser', change, { twoFactorCode: totpCode(config), twoFactorMethod: 'totp' }), t, 'insertOrUpdateUser with code');
		expect(result === true, `result ${JSON.stringify(result)}`);
	}, withTarget);

	// users.update needs 2FA; the code validated just above for this token may still be remembered
	// (same token, User-Agent and address), so the handler is there but need not be asked.
	await runner.check('Users:NameChanged after users.update over sdk.rest', async () => {
		const renamed = `${state.target.username}.renamed`;
		const asked = [];
		sdk.rest.handleTwoFactorChallenge(async ({ method }) => {
			asked.push(method);
			return totpCode(config);
		});
		const { sub, event } = nextEvent(sdk, 'notify-logged', 'Users:NameChanged', (e) => e && e._id === state.target.id, t, 'Users:NameChanged');
		try {
			await withTimeout(sub.ready(), t, 'ready Users:NameChanged');
			await withTimeout(sdk.rest.post('/v1/users.update', { userId: state.target.id, data: { username: renamed } }), t, 'users.update');
			const [payload] = await event;
			expect(payload.username === renamed, `event ${JSON.stringify(payload)}`);
			expect(asked.every((m) => m === 'totp'), `2FA handler asked ${JSON.stringify(asked)}`);
			state.target.username = renamed;
		} finally {
			sub.stop();
		}
	}, withTarget);

	await runner.check('stream-notify-user for another uid is refused (nosub)', async () => {
		const sub = sdk.client.subscribe('stream-notify-user', `${state.target.id}/subscriptions-changed`, { useCollection: false, args: [] });
		try {
			await withTimeout(sub.ready(), t, 'nosub');
		} catch (err) {
			expect(!String(err).startsWith('Error: timed out'), 'no answer to the subscription');
			expect(errorCode(err) === 'not-allowed', `nosub error ${JSON.stringify(err)}`);
			return;
		}
		throw new Error('subscription to another user\'s stream-notify-user was accepted');
	}, withTarget);

	if (config.controlApi) {
		// The stand-in's fault API drops every websocket; the SDK reconnects, logs in again with its
		// token (DDPSDK 'connected' handler) and re-sends its subscriptions with the same ids.
		await runner.check('dropped websocket: SDK reconnects, resumes login, stream keeps delivering', async () => {
			const { sub, event } = nextEvent(sdk, 'notify-logged', 'roles-change', (e) => e && e.type === 'removed' && e.u && e.u._id === state.target.id, t * 2, 'roles-change after reconnect');
			try {
				await withTimeout(sub.ready(), t, 'ready before drop');
				const reconnected = new Promise((resolve) => sdk.connection.once('connected', resolve));
				const dropped = await fetch(`${config.url}/_fake/drop-websockets`, { method: 'POST' });
				expect(dropped.ok, `drop-websockets answered ${dropped.status}`);
				await withTimeout(reconnected, t, 'reconnect');
				const result = await withTimeout(sdk.call('authorization:removeUserFromRole', 'bot', state.target.username), t, 'removeUserFromRole');
				expect(result === true, `method result ${JSON.stringify(result)}`);
				const [payload] = await event;
				expect(payload._id === 'bot', `event ${JSON.stringify(payload)}`);
			} finally {
				sub.stop();
			}
		}, withTarget);
	}

	await runner.check('Users:Deleted event after deleteUser', async () => {
		const { sub, event } = nextEvent(sdk, 'notify-logged', 'Users:Deleted', (e) => e && e.userId === state.target.id, t, 'Users:Deleted');
		try {
			await withTimeout(sub.ready(), t, 'ready Users:Deleted');
			await withTimeout(sdk.call('deleteUser', state.target.id), t, 'deleteUser');
			const [payload] = await event;
			expect(payload.messageErasureType === 'Delete', `event ${JSON.stringify(payload)}`);
		} finally {
			sub.stop();
		}
	}, withTarget);

	await runner.check('unknown method -> 404 error', async () => {
		try {
			await withTimeout(sdk.call('no-such-method-conformance'), t, 'unknown method');
		} catch (err) {
			expect(errorCode(err) === 404, `error ${JSON.stringify(err)}`);
			return;
		}
		throw new Error('unknown method succeeded');
	}, loggedIn);

	await runner.check('logout', async () => {
		await withTimeout(sdk.account.logout(), t, 'logout');
		expect(sdk.account.uid === undefined, 'still logged in');
	}, loggedIn);

	sdk.connection.close();
	runner.finish();
}

main().catch((err) => crash(SCRIPT, err));
