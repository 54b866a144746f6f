import lastcall from './index.js';

export const { createServer, Server, IncomingMessage, ServerResponse, STATUS_CODES, METHODS } = lastcall;
export default lastcall;
