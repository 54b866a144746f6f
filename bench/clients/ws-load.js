'use strict';
// `node ws-load.js <port> <clients> <seconds>`: each client sends a 32-byte
// message, waits for its echo, and repeats. Prints {"messages": n,
// "errors": e} counted after every client has connected; an error is an
// echo that differs from what was sent or a socket that ends early.

const { WebSocket } = require('ws');

const [port, clients, seconds] = process.argv.slice(2).map(Number);
const payload = Buffer.alloc(32, 97);
let counting = false;
let messages = 0;
let errors = 0;
let stopped = false;

function open() {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

async function main() {
  const sockets = [];
  for (let i = 0; i < clients; i += 100) {
    sockets.push(...await Promise.all(Array.from({ length: Math.min(100, clients - i) }, open)));
  }
  for (const ws of sockets) {
    ws.on('message', (data) => {
      if (!payload.equals(data)) errors++;
      if (counting) messages++;
      if (!stopped) ws.send(payload);
    });
    ws.on('error', () => {});
    ws.on('close', () => {
      if (!stopped) errors++;
    });
    ws.send(payload);
  }
  counting = true;
  setTimeout(() => {
    stopped = true;
    counting = false;
    process.stdout.write(JSON.stringify({ messages, errors }) + '\n');
    for (const ws of sockets) ws.terminate();
    process.exit(0);
  }, seconds * 1000);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
