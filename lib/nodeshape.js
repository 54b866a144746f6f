'use strict';

// The private symbols under which node:http's own prototype methods keep
// their state. Frameworks (Express) move `req`/`res` onto prototypes derived
// from http.IncomingMessage / http.ServerResponse, after which Node's getters
// and header methods run on our objects: they only work if our objects keep
// that state where Node looks for it. The symbols are not exported by Node,
// so they are read off a real instance once, by their descriptions, which
// have been the same from Node 20 to 24 (tested on each).

const http = require('node:http');

// `optional` names exist on some of the supported versions only.
function symbolsOf(object, wanted, optional = []) {
  const found = {};
  for (const sym of Object.getOwnPropertySymbols(object)) {
    if (wanted.includes(sym.description) || optional.includes(sym.description)) found[sym.description] = sym;
  }
  for (const name of wanted) {
    if (found[name] === undefined) {
      throw new Error(`lastcall: this Node.js version (${process.version}) keeps no ${name} on ` +
        'node:http objects; lastcall supports Node 20, 22 and 24');
    }
  }
  return found;
}

const incoming = symbolsOf(new http.IncomingMessage(null),
  ['kHeaders', 'kHeadersCount', 'kTrailers', 'kTrailersCount'], ['kAbortController']);
const outgoing = symbolsOf(new http.OutgoingMessage(),
  ['kOutHeaders', 'kNeedDrain', 'corked'], ['kWritableFinished']);

module.exports = {
  kNodeHeaders: incoming.kHeaders,
  kNodeHeadersCount: incoming.kHeadersCount,
  kNodeTrailers: incoming.kTrailers,
  kNodeTrailersCount: incoming.kTrailersCount,
  // Node 24: `req.signal` is made on first use from this slot.
  kAbortController: incoming.kAbortController,
  kOutHeaders: outgoing.kOutHeaders,
  kNeedDrain: outgoing.kNeedDrain,
  kCorked: outgoing.corked,
  // Node 24: `res.writableFinished` reads this slot.
  kWritableFinished: outgoing.kWritableFinished,
};
