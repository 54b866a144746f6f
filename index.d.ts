// Hand-written public types of lastcall. The request and response objects
// are typed as node:http's, because handlers written for node:http run
// unchanged; what lastcall adds is declared here.

import type { EventEmitter } from 'node:events';
import type * as http from 'node:http';

export type IncomingMessage = http.IncomingMessage;
export type ServerResponse<Request extends http.IncomingMessage = http.IncomingMessage> = http.ServerResponse<Request>;
export type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

export declare const IncomingMessage: typeof http.IncomingMessage;
export declare const ServerResponse: typeof http.ServerResponse;
export declare const STATUS_CODES: typeof http.STATUS_CODES;
export declare const METHODS: typeof http.METHODS;

/** HTTP/2 settings for h2c connections. */
export interface Http2Options {
  /** SETTINGS_MAX_CONCURRENT_STREAMS. Default 200. */
  maxConcurrentStreams?: number;
  /** Initial stream flow-control window in bytes. Default 65535. */
  initialWindowSize?: number;
  /**
   * What may wait to be written per HTTP/2 session, in MiB (node:http2's
   * option). Past it, new streams are refused with RST_STREAM(REFUSED_STREAM)
   * before they reach a handler, so clients may retry them. A number below 1
   * counts as 1. Default 10.
   */
  maxSessionMemory?: number;
}

/** Options of `createServer()`. Times are in milliseconds; 0 means no limit. */
export interface ServerOptions {
  /** Idle HTTP/1.1 keep-alive connections are closed after this. Default 5000. */
  keepAliveTimeout?: number;
  /** Time allowed to receive a request head. Default 60000. */
  headersTimeout?: number;
  /** Time allowed to receive a whole request. Default 300000. */
  requestTimeout?: number;
  /** Largest request head in bytes (at least 8192 is enforced). Default 16384. */
  maxHeaderSize?: number;
  /** Deadline for `close()`: what is still open then is forced. Default: none. */
  shutdownTimeout?: number;
  /** HTTP/1.1 requests without Host get 400, as RFC 9112 §3.2 says. Default true. */
  requireHostHeader?: boolean;
  /** Join duplicate request headers with ', ' instead of dropping them (Node's option). Default false. */
  joinDuplicateHeaders?: boolean;
  /** HTTP/2 settings. */
  http2?: Http2Options;
}

/** What `listen()` accepts as its first argument in object form. */
export interface ListenOptions {
  port?: number | string;
  host?: string;
  backlog?: number;
  /**
   * Bind with SO_REUSEPORT (Linux, BSDs), so a new process can listen on the
   * same port while this one still serves; the kernel spreads new connections
   * over the listeners. For deploys: start the new server, then `close()` the
   * old one. Default false. As Node 22.12+'s `listen({ reusePort })`.
   */
  reusePort?: boolean;
}

/** The bound address, as `net.Server#address()` returns it. */
export interface AddressInfo {
  address: string;
  family: string;
  port: number;
}

/** What the open connections are doing, from `connectionsInfo()`. */
export interface ConnectionsInfo {
  /** HTTP/1.1 connections with no request in flight (and connections that have not sent a byte yet). */
  idle: number;
  /** HTTP/1.1 connections with a request in flight. */
  active: number;
  /** Open HTTP/2 sessions. */
  http2Sessions: number;
  /** Open HTTP/2 streams. */
  http2Streams: number;
  /** Upgraded connections (WebSockets). */
  upgraded: number;
  /** True between `close()` and `'close'`. */
  closing: boolean;
}

/** A request a closing server still waits for. */
export interface OpenRequest {
  method: string;
  url: string;
  httpVersion: string;
  /** Milliseconds since the request reached the server. */
  ageMs: number;
}

/** Passed to the `'closing'` and `'closeTimeout'` events. */
export interface CloseSnapshot extends ConnectionsInfo {
  /** Requests whose response has not been handed over yet. */
  requests: OpenRequest[];
}

/**
 * A server for HTTP/1.1 and HTTP/2 with prior knowledge (h2c) on one port,
 * with node:http's API. `close(cb)` stops accepting at once, lets what is in
 * flight finish, and calls back when every connection has ended.
 */
export interface Server extends EventEmitter {
  keepAliveTimeout: number;
  headersTimeout: number;
  requestTimeout: number;
  maxHeaderSize: number;
  shutdownTimeout: number | undefined;
  timeout: number;
  maxHeadersCount: number | null;
  maxRequestsPerSocket: number;
  /** True between `listen()` taking the port and `close()`. */
  readonly listening: boolean;
  /** True from `close()` until `'close'`. */
  readonly closing: boolean;
  /** Aborted when `close()` starts: hand it to long-lived work (WebSockets, streams, timers). */
  readonly closeSignal: AbortSignal;

  listen(port?: number | string, hostname?: string, backlog?: number, listeningListener?: () => void): this;
  listen(port?: number | string, hostname?: string, listeningListener?: () => void): this;
  listen(port?: number | string, backlog?: number, listeningListener?: () => void): this;
  listen(port?: number | string, listeningListener?: () => void): this;
  listen(options: ListenOptions, listeningListener?: () => void): this;
  listen(listeningListener?: () => void): this;

  address(): AddressInfo | null;
  /** Stops accepting (the port is free when this returns), finishes what is in flight, then calls back. */
  close(callback?: (err?: Error) => void): this;
  /** Closes connections with no request in flight now (HTTP/2: sessions with no open stream get GOAWAY). */
  closeIdleConnections(): void;
  /** Closes every HTTP connection now: open requests are aborted, HTTP/2 streams cancelled. Upgraded sockets are left alone. */
  closeAllConnections(): void;
  /** What the open connections are doing right now. */
  connectionsInfo(): ConnectionsInfo;
  getConnections(callback: (err: Error | null, count: number) => void): this;
  /** Inactivity timeout given to every new connection; `'timeout'` gets the socket. */
  setTimeout(msecs?: number, callback?: (socket: http.IncomingMessage['socket']) => void): this;
  ref(): this;
  unref(): this;
  [Symbol.asyncDispose](): Promise<void>;

  on(event: 'request' | 'checkContinue' | 'checkExpectation', listener: RequestListener): this;
  on(event: 'dropRequest', listener: (req: IncomingMessage, socket: http.IncomingMessage['socket']) => void): this;
  on(event: 'timeout' | 'connection', listener: (socket: http.IncomingMessage['socket']) => void): this;
  on(event: 'listening' | 'close', listener: () => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
  on(event: 'closing' | 'closeTimeout', listener: (snapshot: CloseSnapshot) => void): this;
  on(event: string | symbol, listener: (...args: any[]) => void): this;
  once(event: 'request' | 'checkContinue' | 'checkExpectation', listener: RequestListener): this;
  once(event: 'listening' | 'close', listener: () => void): this;
  once(event: 'error', listener: (err: Error) => void): this;
  once(event: 'closing' | 'closeTimeout', listener: (snapshot: CloseSnapshot) => void): this;
  once(event: string | symbol, listener: (...args: any[]) => void): this;
}

/** `Server` is callable with or without `new`, and can be subclassed, as node:http's. */
export interface ServerConstructor {
  new (requestListener?: RequestListener): Server;
  new (options: ServerOptions, requestListener?: RequestListener): Server;
  (requestListener?: RequestListener): Server;
  (options: ServerOptions, requestListener?: RequestListener): Server;
  readonly prototype: Server;
}

export declare const Server: ServerConstructor;

/** Creates a server; same signature as `http.createServer()`. */
export declare function createServer(requestListener?: RequestListener): Server;
export declare function createServer(options: ServerOptions, requestListener?: RequestListener): Server;
