'use strict';

// Private state lives under these symbols, as in Node's lib/_http_*.js.
module.exports = {
  kTransport: Symbol('transport'),
  kId: Symbol('id'),
  kConn: Symbol('conn'),
  kEnded: Symbol('ended'),
  kDemanded: Symbol('demanded'),
  kDumped: Symbol('dumped'),
  kResponse: Symbol('response'),
  kRequest: Symbol('request'),
  kHasBody: Symbol('hasBody'),
  kHeadState: Symbol('headState'),
  kHeadHeaders: Symbol('headHeaders'),
  kHeadImplicit: Symbol('headImplicit'),
  kExplicitHead: Symbol('explicitHead'),
  kHeadKeepAlive: Symbol('headKeepAlive'),
  kCallbacks: Symbol('callbacks'),
  kFinished: Symbol('finished'),
  kStart: Symbol('start'),
  // A secure server's NativeSecureContext (lib/secure.js).
  kSecureContext: Symbol('secureContext'),
};
