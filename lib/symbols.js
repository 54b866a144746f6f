'use strict';

// Private state lives under these symbols, as in Node's lib/_http_*.js.
module.exports = {
  kServer: Symbol('server'),
  kId: Symbol('id'),
  kConn: Symbol('conn'),
  kHasBody: Symbol('hasBody'),
  kEnded: Symbol('ended'),
  kDemanded: Symbol('demanded'),
  kDumped: Symbol('dumped'),
  kStream: Symbol('streamReady'),
  kHeaderBuf: Symbol('headerBuf'),
  kHeaderStart: Symbol('headerStart'),
  kHeaderEnd: Symbol('headerEnd'),
  kHeaders: Symbol('headers'),
  kRawHeaders: Symbol('rawHeaders'),
  kOutHeaders: Symbol('outHeaders'),
  kHeadState: Symbol('headState'),
  kOutstanding: Symbol('outstanding'),
  kCallbacks: Symbol('callbacks'),
  kNeedDrain: Symbol('needDrain'),
  kFinished: Symbol('finished'),
  kClosed: Symbol('closed'),
  kStart: Symbol('start'),
};
