// NIP-77 with the negentropy reference implementation (Doug Hoyte's JavaScript, the same
// author and protocol test vectors as strfry's C++; shipped in applesauce-relay), for
// shard/tests/negentropy.rs. Two roles:
//
//   node negentropy_reference.mjs client URL FILTER_JSON ITEMS_FILE FRAME_LIMIT
//     Reconciles ITEMS_FILE (JSON lines [created_at, "id hex"]) with the relay at URL and
//     prints one JSON line {"have": [...], "need": [...], "rounds": N}.
//
//   node negentropy_reference.mjs relay EVENTS_FILE
//     A minimal relay over the events in EVENTS_FILE (JSON lines) whose negentropy side is the
//     reference implementation, for `parrhesia-tools sync` to run against: NEG-OPEN (over
//     every event it holds: it ignores the filter), NEG-MSG, NEG-CLOSE, REQ by ids or {}, and
//     EVENT (stored without checks). Prints {"port": N} once listening.

import { readFileSync } from 'node:fs';
import { WebSocket, WebSocketServer } from 'ws';
// Not in the package's exports map: imported by path (this file sits next to node_modules).
import { Negentropy, NegentropyStorageVector } from './node_modules/applesauce-relay/dist/lib/negentropy.js';

const lines = (file) => readFileSync(file, 'utf8').split('\n').filter((line) => line.trim() !== '').map((line) => JSON.parse(line));

function storageOf(items) {
  const storage = new NegentropyStorageVector();
  for (const [createdAt, id] of items) storage.insert(createdAt, id);
  storage.seal();
  return storage;
}

async function client(url, filter, itemsFile, frameLimit) {
  const negentropy = new Negentropy(storageOf(lines(itemsFile)), frameLimit);
  const socket = new WebSocket(url);
  await new Promise((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('error', reject);
  });
  const have = [];
  const need = [];
  let rounds = 0;
  const done = new Promise((resolve, reject) => {
    socket.on('message', async (data) => {
      const message = JSON.parse(data.toString());
      if (message[0] === 'NEG-ERR') return reject(new Error(`NEG-ERR ${message[2]}`));
      if (message[0] !== 'NEG-MSG' || message[1] !== 'ref') return;
      rounds += 1;
      try {
        const [next, haveIds, needIds] = await negentropy.reconcile(message[2]);
        have.push(...haveIds);
        need.push(...needIds);
        if (next === null) {
          socket.send(JSON.stringify(['NEG-CLOSE', 'ref']));
          resolve();
        } else {
          socket.send(JSON.stringify(['NEG-MSG', 'ref', next]));
        }
      } catch (error) {
        reject(error);
      }
    });
  });
  socket.send(JSON.stringify(['NEG-OPEN', 'ref', JSON.parse(filter), await negentropy.initiate()]));
  await done;
  socket.close();
  console.log(JSON.stringify({ have, need, rounds }));
}

function relay(eventsFile) {
  const events = new Map(lines(eventsFile).map((event) => [event.id, event]));
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  server.on('connection', (socket) => {
    const sessions = new Map();
    const send = (message) => socket.send(JSON.stringify(message));
    socket.on('message', async (data) => {
      const message = JSON.parse(data.toString());
      const [verb, subscription] = message;
      try {
        if (verb === 'NEG-OPEN') {
          const items = [...events.values()].map((event) => [event.created_at, event.id]);
          items.sort((a, b) => a[0] - b[0] || (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
          const negentropy = new Negentropy(storageOf(items), 0);
          sessions.set(subscription, negentropy);
          const [answer] = await negentropy.reconcile(message[3]);
          send(['NEG-MSG', subscription, answer]);
        } else if (verb === 'NEG-MSG') {
          const negentropy = sessions.get(subscription);
          if (!negentropy) return send(['NEG-ERR', subscription, 'closed: no such session']);
          const [answer] = await negentropy.reconcile(message[2]);
          send(['NEG-MSG', subscription, answer]);
        } else if (verb === 'NEG-CLOSE') {
          sessions.delete(subscription);
        } else if (verb === 'REQ') {
          for (const filter of message.slice(2)) {
            const wanted = filter.ids ? filter.ids.map((id) => events.get(id)).filter(Boolean) : [...events.values()];
            for (const event of wanted) send(['EVENT', subscription, event]);
          }
          send(['EOSE', subscription]);
        } else if (verb === 'EVENT') {
          const event = message[1];
          events.set(event.id, event);
          send(['OK', event.id, true, '']);
        }
      } catch (error) {
        send(['NEG-ERR', subscription, `error: ${error.message}`]);
      }
    });
  });
  server.on('listening', () => console.log(JSON.stringify({ port: server.address().port })));
}

const [role, ...args] = process.argv.slice(2);
if (role === 'client') {
  await client(args[0], args[1], args[2], Number(args[3]));
} else if (role === 'relay') {
  relay(args[0]);
} else {
  console.error('usage: client URL FILTER ITEMS_FILE FRAME_LIMIT | relay EVENTS_FILE');
  process.exit(2);
}
