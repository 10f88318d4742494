// Users, rooms, roles, permissions and method.call through the official REST client, as the
// provisioning bridge uses them. Expected shapes: packages/rest-typings/src/v1/{users,channels,groups,
// roles,rooms,subscriptionsEndpoints,permissions,misc}.ts and the handlers in
// apps/meteor/app/api/server/v1/*.ts (response keys, pagination fields, error codes).

import { brief, call, ok } from './rest.mjs';
import { expect } from './common.mjs';

const stamp = Date.now().toString(36);

async function createUser(client, runner, suffix) {
	const username = `conf.${suffix}.${stamp}`;
	const password = `Pw-${Math.random().toString(36).slice(2)}`;
	runner.addSecret(password);
	const body = await ok(client, 'post', '/v1/users.create', {
		email: `${username}@example.org`, name: `Conf ${suffix}`, password, username, verified: false,
	});
	return { id: body.user._id, username };
}

function ids(list, key = '_id') {
	return (list || []).map((item) => item[key]);
}

export async function runAdminChecks(runner, config, client) {
	const dep = { requires: ['login with TOTP code in body'] };
	const people = await runner.check('users.create x3 for room checks', async () => {
		const made = [];
		for (const suffix of ['alice', 'bob', 'carol']) {
			made.push(await createUser(client, runner, suffix));
		}
		return { detail: made.map((u) => u.username).join(','), made };
	}, dep);
	const [alice, bob, carol] = people ? people.made : [];
	const withPeople = { requires: ['users.create x3 for room checks'] };

	await runner.check('users.info by userId and by username', async () => {
		const byId = await ok(client, 'get', '/v1/users.info', { userId: alice.id });
		expect(byId.user && byId.user.username === alice.username, 'users.info(userId) returned another user');
		const byName = await ok(client, 'get', '/v1/users.info', { username: alice.username });
		expect(byName.user._id === alice.id, 'users.info(username) returned another user');
		const missing = await call(client, 'get', '/v1/users.info', { username: `nobody.${stamp}` });
		expect(missing.status === 400 && missing.body.success === false, `unknown user -> ${missing.status} ${brief(missing.body)}`);
	}, withPeople);

	await runner.check('users.list pages with count/offset/total', async () => {
		const page = await ok(client, 'get', '/v1/users.list', { count: 2, offset: 1 });
		expect(Array.isArray(page.users) && page.users.length === 2, `users length ${page.users && page.users.length}`);
		expect(page.count === 2 && page.offset === 1 && page.total >= 5, `count/offset/total ${page.count}/${page.offset}/${page.total}`);
	}, withPeople);

	const channel = await runner.check('channels.create with members', async () => {
		const body = await ok(client, 'post', '/v1/channels.create', { name: `conf-pub-${stamp}`, members: [alice.username] });
		expect(body.channel && body.channel._id && body.channel.t === 'c', `channel ${JSON.stringify(body.channel && body.channel.t)}`);
		return { detail: body.channel._id, id: body.channel._id };
	}, withPeople);
	const withChannel = { requires: ['channels.create with members'] };

	await runner.check('channels.invite with userIds list', async () => {
		const body = await ok(client, 'post', '/v1/channels.invite', { roomId: channel.id, userIds: [bob.id, carol.id] });
		expect(body.channel && body.channel._id === channel.id, 'channel missing from answer');
		const again = await ok(client, 'post', '/v1/channels.invite', { roomId: channel.id, userId: bob.id });
		expect(again.success === true, 'inviting a member again must be a silent success');
	}, withChannel);

	await runner.check('channels.members lists members with total', async () => {
		const body = await ok(client, 'get', '/v1/channels.members', { roomId: channel.id, count: 100, offset: 0 });
		const names = body.members.map((m) => m.username);
		for (const u of [alice, bob, carol]) {
			expect(names.includes(u.username), `${u.username} missing from members`);
		}
		expect(body.total === names.length && body.count === names.length && body.offset === 0, `count/offset/total ${body.count}/${body.offset}/${body.total}`);
	}, { requires: ['channels.invite with userIds list'] });

	await runner.check('channels.addModerator / addOwner and channels.roles', async () => {
		await ok(client, 'post', '/v1/channels.addModerator', { roomId: channel.id, userId: alice.id });
		await ok(client, 'post', '/v1/channels.addOwner', { roomId: channel.id, userId: bob.id });
		const body = await ok(client, 'get', '/v1/channels.roles', { roomId: channel.id });
		const roleOf = (u) => (body.roles.find((r) => r.u && r.u._id === u.id) || { roles: [] }).roles;
		expect(roleOf(alice).includes('moderator'), `alice roles ${JSON.stringify(roleOf(alice))}`);
		expect(roleOf(bob).includes('owner'), `bob roles ${JSON.stringify(roleOf(bob))}`);
		await ok(client, 'post', '/v1/channels.removeModerator', { roomId: channel.id, userId: alice.id });
		await ok(client, 'post', '/v1/channels.removeOwner', { roomId: channel.id, userId: bob.id });
	}, { requires: ['channels.invite with userIds list'] });

	await runner.check('channels.kick removes the member', async () => {
		await ok(client, 'post', '/v1/channels.kick', { roomId: channel.id, userId: carol.id });
		const body = await ok(client, 'get', '/v1/channels.members', { roomId: channel.id });
		expect(!body.members.some((m) => m._id === carol.id), 'carol still a member after kick');
	}, { requires: ['channels.invite with userIds list'] });

	await runner.check('channels.info and rooms.info', async () => {
		const info = await ok(client, 'get', '/v1/channels.info', { roomId: channel.id });
		expect(info.channel._id === channel.id && info.channel.name === `conf-pub-${stamp}`, 'channels.info mismatch');
		const room = await ok(client, 'get', '/v1/rooms.info', { roomId: 'GENERAL' });
		expect(room.room && room.room._id === 'GENERAL' && room.room.t === 'c', `rooms.info GENERAL ${JSON.stringify(room.room && room.room.t)}`);
	}, withChannel);

	await runner.check('channels.setDefault', async () => {
		const body = await ok(client, 'post', '/v1/channels.setDefault', { roomId: channel.id, default: true });
		expect(body.channel && body.channel.default === true, `channel.default ${body.channel && body.channel.default}`);
	}, withChannel);

	const group = await runner.check('groups.create / invite / addOwner / members / info', async () => {
		const created = await ok(client, 'post', '/v1/groups.create', { name: `conf-priv-${stamp}`, members: [alice.username] });
		const id = created.group._id;
		expect(created.group.t === 'p', `group.t ${created.group.t}`);
		await ok(client, 'post', '/v1/groups.invite', { roomId: id, userId: bob.id });
		await ok(client, 'post', '/v1/groups.addOwner', { roomId: id, userId: bob.id });
		const members = await ok(client, 'get', '/v1/groups.members', { roomId: id });
		const names = members.members.map((m) => m.username);
		expect(names.includes(alice.username) && names.includes(bob.username), `members ${names.join(',')}`);
		const info = await ok(client, 'get', '/v1/groups.info', { roomId: id });
		expect(info.group._id === id, 'groups.info mismatch');
		await ok(client, 'post', '/v1/groups.kick', { roomId: id, userId: alice.id });
		return { detail: id, id };
	}, withPeople);

	await runner.check('groups.listAll and channels.list', async () => {
		const groups = await ok(client, 'get', '/v1/groups.listAll', { count: 100 });
		expect(ids(groups.groups).includes(group.id), 'new group missing from groups.listAll');
		const channels = await ok(client, 'get', '/v1/channels.list', { count: 100 });
		expect(ids(channels.channels).includes(channel.id), 'new channel missing from channels.list');
		expect(typeof channels.total === 'number', 'channels.list total missing');
	}, { requires: ['channels.create with members', 'groups.create / invite / addOwner / members / info'] });

	await runner.check('subscriptions.get', async () => {
		const body = await ok(client, 'get', '/v1/subscriptions.get');
		expect(Array.isArray(body.update) && Array.isArray(body.remove), 'update/remove arrays missing');
		expect(body.update.some((s) => s.rid === 'GENERAL' || s.rid === channel.id), 'no subscription for own rooms');
	}, withChannel);

	await runner.check('roles.list / addUserToRole / getUsersInRole / removeUserFromRole', async () => {
		const list = await ok(client, 'get', '/v1/roles.list');
		for (const id of ['admin', 'user', 'bot', 'moderator', 'owner']) {
			expect(ids(list.roles).includes(id), `built-in role ${id} missing`);
		}
		const added = await ok(client, 'post', '/v1/roles.addUserToRole', { roleId: 'bot', username: alice.username });
		expect(added.role && added.role._id === 'bot', `role ${JSON.stringify(added.role && added.role._id)}`);
		const inRole = await ok(client, 'get', '/v1/roles.getUsersInRole', { role: 'bot', count: 50, offset: 0 });
		expect(ids(inRole.users).includes(alice.id) && typeof inRole.total === 'number', 'alice not in role bot');
		await ok(client, 'post', '/v1/roles.removeUserFromRole', { roleId: 'bot', username: alice.username });
		const after = await ok(client, 'get', '/v1/roles.getUsersInRole', { role: 'bot' });
		expect(!ids(after.users).includes(alice.id), 'alice still in role bot');
	}, withPeople);

	await runner.check('permissions.listAll', async () => {
		const body = await ok(client, 'get', '/v1/permissions.listAll');
		const perm = (body.update || []).find((p) => p._id === 'add-user-to-any-p-room');
		expect(perm && Array.isArray(perm.roles) && perm.roles.length === 0, `add-user-to-any-p-room ${JSON.stringify(perm && perm.roles)}`);
	}, dep);

	await runner.check('method.call wraps a DDP method result', async () => {
		const message = JSON.stringify({ msg: 'method', id: '7', method: 'authorization:addUserToRole', params: ['bot', bob.username] });
		const body = await ok(client, 'post', '/v1/method.call/authorization:addUserToRole', { message });
		expect(typeof body.message === 'string', 'message is not a string');
		const inner = JSON.parse(body.message);
		expect(inner.msg === 'result' && inner.id === '7' && inner.result === true, `inner ${body.message.slice(0, 200)}`);
	}, withPeople);

	await runner.check('users.setActiveStatus then users.delete', async () => {
		const deactivated = await ok(client, 'post', '/v1/users.setActiveStatus', { userId: carol.id, activeStatus: false });
		expect(deactivated.user && deactivated.user._id === carol.id && deactivated.user.active === false, 'user.active not false');
		const deleted = await ok(client, 'post', '/v1/users.delete', { userId: carol.id });
		expect(deleted.success === true, 'users.delete not success');
		const gone = await call(client, 'get', '/v1/users.info', { userId: carol.id });
		expect(gone.status === 400, `deleted user still found (${gone.status})`);
	}, withPeople);
}
