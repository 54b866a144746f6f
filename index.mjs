import lastcall from './index.js';

export const { createServer, Server, createSecureServer, SecureServer, IncomingMessage, ServerResponse, STATUS_CODES, METHODS } = lastcall;
export default lastcall;
