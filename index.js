'use strict';

const { Server } = require('./lib/server');
const { SecureServer, createSecureServer } = require('./lib/secure');
const { IncomingMessage } = require('./lib/incoming');
const { ServerResponse } = require('./lib/response');
const { STATUS_CODES, METHODS } = require('node:http');

/**
 * Creates a server that serves HTTP/1.1 and HTTP/2 (h2c) on one port.
 * Same signature as `http.createServer([options][, requestListener])`.
 */
function createServer(options, requestListener) {
  return new Server(options, requestListener);
}

module.exports = { createServer, Server, createSecureServer, SecureServer, IncomingMessage, ServerResponse, STATUS_CODES, METHODS };
