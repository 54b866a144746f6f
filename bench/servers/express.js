'use strict';
// Express 5 hello world on either server: `node express.js <impl> <port>`,
// impl = lastcall | node (node:http). Signals readiness over IPC. The app is
// what an Express user writes; only createServer differs.

const express = require('express');

const impl = process.argv[2];
const port = Number(process.argv[3]);
const http = impl === 'lastcall' ? require('../../index.js') : require('node:http');

const app = express();
app.get('/', (req, res) => res.send('hello world'));

const server = http.createServer(app);
server.listen(port, '127.0.0.1', () => process.send({ ready: true }));
