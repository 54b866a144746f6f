'use strict';
// WebSocket echo with the `ws` package: `node ws-echo.js <impl> <port>`,
// impl = lastcall | node (node:http). Signals readiness over IPC.

const { WebSocketServer } = require('ws');

const impl = process.argv[2];
const port = Number(process.argv[3]);
const http = impl === 'lastcall' ? require('../../index.js') : require('node:http');
const server = http.createServer((req, res) => res.end('ws echo'));
const wss = new WebSocketServer({ server });
wss.on('connection', (ws) => ws.on('message', (m, isBinary) => ws.send(m, { binary: isBinary })));
server.listen(port, '127.0.0.1', () => process.send({ ready: true }));
