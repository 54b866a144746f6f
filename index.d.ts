// Hand-written public types of lastcall. The request and response objects
// are typed as node:http's, because handlers written for node:http run
// unchanged; what lastcall adds is declared here.

import type { EventEmitter } from 'node:events';
import type * as http from 'node:http';
import type { X509Certificate } from 'node:crypto';
import type { PeerCertificate, DetailedPeerCertificate, CipherNameAndProtocol } from 'node:tls';

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
  /** Connections still in their TLS handshake (secure servers; 0 otherwise). */
  handshaking: number;
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

/** PEM text or bytes. */
export type Pem = string | Buffer | NodeJS.ArrayBufferView;

/** A key and certificate chain (and optionally CAs), for `addContext()` and `setSecureContext()`. */
export interface SecureContextOptions {
  /** Private key, PEM: PKCS#1, PKCS#8, SEC1, or encrypted PKCS#8 with `passphrase`. One key per context. */
  key: Pem | Array<Pem | { pem: Pem; passphrase?: string }>;
  /** Certificate chain, PEM, leaf first. */
  cert: Pem | Pem[];
  /** CAs trusted for client certificates (`requestCert`), PEM. */
  ca?: Pem | Pem[];
  /** Passphrase of an encrypted PKCS#8 key. */
  passphrase?: string;
}

/**
 * Options of `createSecureServer()`: the server's options plus Node's TLS
 * options by Node's names. Options rustls cannot honour (`pfx`, `ciphers`,
 * `dhparam`, `secureOptions`, `SNICallback`, …) throw, naming the option.
 */
export interface SecureServerOptions extends ServerOptions, SecureContextOptions {
  /** Lowest TLS version accepted. Default `'TLSv1.2'`. */
  minVersion?: 'TLSv1.2' | 'TLSv1.3';
  /** Highest TLS version accepted. Default `'TLSv1.3'`. */
  maxVersion?: 'TLSv1.2' | 'TLSv1.3';
  /** Protocols offered by ALPN, in order of preference. Default `['h2', 'http/1.1']`. */
  ALPNProtocols?: Array<'h2' | 'http/1.1'> | Uint8Array;
  /**
   * Serve clients that do not negotiate `h2` (HTTP/1.1 over TLS). Default
   * `true` here (`http2.createSecureServer` defaults to `false`); with
   * `false` they are refused after the handshake and `'unknownProtocol'` is emitted.
   */
  allowHTTP1?: boolean;
  /** Ask clients for a certificate (mutual TLS). Default false. */
  requestCert?: boolean;
  /** With `requestCert`, refuse clients without a certificate signed by `ca`. Default true. */
  rejectUnauthorized?: boolean;
  /** Milliseconds a client has to finish its handshake. Default 120000. */
  handshakeTimeout?: number;
  /** Seconds a TLS session can be resumed. Default 300. */
  sessionTimeout?: number;
}

/** `req.socket` on a secure server: the parts of `tls.TLSSocket` handlers read. */
export interface SecureSocketInfo {
  readonly encrypted: true;
  /** `'h2'`, `'http/1.1'`, or false without ALPN. */
  readonly alpnProtocol: string | false;
  /** The SNI host name the client asked for, or false. */
  readonly servername: string | false;
  /** With `requestCert`: the client certificate is signed by `ca`. */
  readonly authorized: boolean;
  /** Why it is not (OpenSSL's name, as Node gives it), or null. */
  readonly authorizationError: string | null;
  getPeerCertificate(detailed: true): DetailedPeerCertificate | Record<string, never>;
  getPeerCertificate(detailed?: false): PeerCertificate | Record<string, never>;
  getPeerX509Certificate(): X509Certificate | undefined;
  getProtocol(): 'TLSv1.2' | 'TLSv1.3' | null;
  getCipher(): CipherNameAndProtocol;
  isSessionReused(): boolean;
}

/**
 * HTTPS and HTTP/2 over TLS on one port, ALPN choosing per connection: a
 * drop-in for `https.createServer()` and `http2.createSecureServer()` (with
 * its request/response API). TLS terminates in the native core (rustls);
 * `close()` keeps the same contract, with a close_notify before the FIN.
 */
export declare class SecureServer extends Server {
  constructor(options: SecureServerOptions, requestListener?: RequestListener);
  readonly allowHTTP1: boolean;
  /** SNI: clients asking for `hostname` (`*` matches within one label, as in Node) get this context. */
  addContext(hostname: string, context: SecureContextOptions): void;
  /** Certificate rotation: new handshakes use this; open connections keep theirs. Throws if unusable. */
  setSecureContext(options: SecureContextOptions): void;

  on(event: 'tlsClientError', listener: (err: Error & { code: string }, socket: SecureSocketInfo) => void): this;
  on(event: 'secureConnection' | 'unknownProtocol', listener: (socket: SecureSocketInfo) => void): this;
  on(event: 'request', listener: RequestListener): this;
  on(event: 'listening' | 'close', listener: () => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
  on(event: 'closing' | 'closeTimeout', listener: (snapshot: CloseSnapshot) => void): this;
  on(event: string | symbol, listener: (...args: any[]) => void): this;
  once(event: 'tlsClientError', listener: (err: Error & { code: string }, socket: SecureSocketInfo) => void): this;
  once(event: 'secureConnection' | 'unknownProtocol', listener: (socket: SecureSocketInfo) => void): this;
  once(event: 'request', listener: RequestListener): this;
  once(event: 'listening' | 'close', listener: () => void): this;
  once(event: 'error', listener: (err: Error) => void): this;
  once(event: 'closing' | 'closeTimeout', listener: (snapshot: CloseSnapshot) => void): this;
  once(event: string | symbol, listener: (...args: any[]) => void): this;
}

/** Creates a secure server; same signature as `https.createServer()` / `http2.createSecureServer()`. */
export declare function createSecureServer(options: SecureServerOptions, requestListener?: RequestListener): SecureServer;
