//! `NativeServer`: the class lib/server.js drives.

use std::sync::{Arc, Mutex};

use bytes::Bytes;

use napi::bindgen_prelude::{BufferSlice, Function};
use napi::{CleanupEnvHook, Env};
use napi_derive::napi;

use crate::binding::doorbell::JsDoorbell;
use crate::binding::error::to_js;
use crate::binding::lent::JsBytes;
use crate::binding::tls::NativeSecureContext;
use crate::core::budget;
use crate::core::config::{self, Config};
use crate::core::server::Server;

/// Server options, validated by lib/ with Node's rules. Times are in
/// milliseconds; 0 means no limit.
#[napi(object)]
pub struct NativeOptions {
    /// Idle keep-alive timeout for HTTP/1.1 connections.
    pub keep_alive_timeout: f64,
    /// Time allowed to receive a request head.
    pub headers_timeout: f64,
    /// Time allowed to receive a whole request.
    pub request_timeout: f64,
    /// Largest request head in bytes.
    pub max_header_size: u32,
    /// HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS.
    pub max_concurrent_streams: u32,
    /// HTTP/2 initial stream window size.
    pub initial_window_size: u32,
    /// HTTP/2 `maxSessionMemory` in MiB (Node's option; at least 1).
    pub max_session_memory: f64,
    /// Listen backlog.
    pub backlog: i32,
    /// Bind with SO_REUSEPORT (`listen({ reusePort: true })`).
    pub reuse_port: bool,
}

impl From<NativeOptions> for Config {
    fn from(o: NativeOptions) -> Config {
        Config {
            keep_alive_timeout: config::millis(o.keep_alive_timeout),
            headers_timeout: config::millis(o.headers_timeout),
            request_timeout: config::millis(o.request_timeout),
            max_header_size: o.max_header_size as usize,
            h2_max_concurrent_streams: o.max_concurrent_streams,
            h2_initial_window_size: o.initial_window_size.clamp(1, (1 << 31) - 1),
            h2_max_session_memory: budget::limit_of(o.max_session_memory),
            backlog: o.backlog,
            reuse_port: o.reuse_port,
            tls: None,
        }
    }
}

/// A listening server on its own I/O thread. Used only through lib/server.js.
#[napi]
pub struct NativeServer {
    inner: Arc<Server>,
    /// Kept to ref/unref the event-loop anchor (`server.ref()`/`unref()`).
    doorbell: Arc<JsDoorbell>,
    /// Force-closes the server if its environment (a worker thread) goes
    /// away without `close()` (DESIGN §4). Removed once the server closed.
    cleanup: Option<CleanupEnvHook<Arc<Server>>>,
    /// The long body chunks of the last drain, taken one by one by
    /// `chunk()` as JS reaches their EV_BODY_AT records.
    chunks: Mutex<Vec<Bytes>>,
}

/// Connection counts as `connectionsInfo()` reports them.
#[napi(object)]
pub struct NativeConnectionsInfo {
    /// HTTP/1.1 connections with no request in flight.
    pub idle: u32,
    /// HTTP/1.1 connections with a request in flight.
    pub active: u32,
    /// Open HTTP/2 sessions.
    pub http2_sessions: u32,
    /// Open HTTP/2 streams.
    pub http2_streams: u32,
    /// Upgraded connections.
    pub upgraded: u32,
    /// Connections in their TLS handshake.
    pub handshaking: u32,
}

#[napi]
impl NativeServer {
    /// Binds `host:port` and starts serving. `onEvents` is called (weakly)
    /// when events are waiting for `drain()`; `onClosed` once, when the server
    /// has fully closed. With `secure`, every connection speaks TLS.
    #[napi(factory, catch_unwind)]
    pub fn listen(
        env: Env,
        host: String,
        port: u32,
        options: NativeOptions,
        on_events: Function<(), ()>,
        on_closed: Function<(), ()>,
        secure: Option<&NativeSecureContext>,
    ) -> napi::Result<Self> {
        let ring = on_events
            .build_threadsafe_function()
            .weak::<true>()
            .build()?;
        let closed = on_closed.build_threadsafe_function().build()?;
        let doorbell = Arc::new(JsDoorbell::new(ring, closed));
        let anchor = doorbell.clone();
        let port =
            u16::try_from(port).map_err(|_| napi::Error::from_reason("port out of range"))?;
        let mut config = Config::from(options);
        config.tls = secure.map(NativeSecureContext::acceptor);
        let server = Server::listen(&host, port, config, doorbell);
        let inner = Arc::new(server.map_err(|e| to_js(&env, e))?);
        let cleanup = env
            .add_env_cleanup_hook(inner.clone(), |server| {
                // The environment is going away: nobody will wait for the
                // drain, so release the port and end every connection now.
                let _ = server.close();
                server.force(true);
                // The I/O thread may still read Buffers JS lent it, and
                // the heap that holds them goes after this hook: wait
                // until that thread has ended (forced, it ends at once).
                server.wait_stopped();
            })
            .ok();
        Ok(NativeServer {
            inner,
            doorbell: anchor,
            cleanup,
            chunks: Mutex::new(Vec::new()),
        })
    }

    /// Whether this server keeps Node's event loop alive (`server.ref()` /
    /// `server.unref()`).
    #[napi(catch_unwind)]
    pub fn set_ref(&self, env: Env, keep_alive: bool) -> napi::Result<()> {
        self.doorbell.set_ref(&env, keep_alive)
    }

    /// The bound address as `[address, family, port]`.
    #[napi(catch_unwind)]
    pub fn address(&self) -> (String, String, u32) {
        let a = self.inner.local_addr();
        let family = if a.is_ipv4() { "IPv4" } else { "IPv6" };
        (a.ip().to_string(), family.to_string(), u32::from(a.port()))
    }

    /// Takes every pending event record as one Buffer.
    #[napi(catch_unwind)]
    pub fn drain<'env>(&self, env: &'env Env) -> napi::Result<BufferSlice<'env>> {
        // Copied into memory V8 allocates and accounts for: an external
        // buffer over the Rust Vec is invisible to V8's heap limits, so with
        // large request bodies the spent batches piled up between GCs (tens
        // of MiB during a 64 MiB upload). One memcpy per batch is cheap.
        self.inner.drain_with(|records, chunks| {
            *self.chunks.lock().unwrap_or_else(|e| e.into_inner()) = chunks;
            BufferSlice::copy_from(env, records)
        })
    }

    /// The long body chunk an EV_BODY_AT record of the last drain points
    /// to, as a Buffer of its own. Each can be taken once (chunks are never
    /// empty, so an empty one was taken already).
    #[napi(catch_unwind)]
    pub fn chunk<'env>(&self, env: &'env Env, index: u32) -> napi::Result<BufferSlice<'env>> {
        let taken = self
            .chunks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_mut(index as usize)
            .map(std::mem::take);
        match taken {
            Some(bytes) if !bytes.is_empty() => BufferSlice::copy_from(env, &bytes),
            _ => Err(napi::Error::from_reason("no such body chunk")),
        }
    }

    /// Hands one flush of response parts to the I/O thread. The long
    /// chunks are used in place, not copied: JS keeps chunk `i` alive until
    /// it hears EV_RELEASE with token `base + i` (wrapping).
    #[napi(catch_unwind)]
    pub fn flush(&self, env: Env, meta: &[u8], chunks: Vec<&[u8]>, base: u32) -> napi::Result<()> {
        let external = chunks
            .into_iter()
            .enumerate()
            .map(|(i, c)| {
                let token = base.wrapping_add(i as u32);
                // SAFETY: lib/transport.js pins the Buffer under `token`
                // until EV_RELEASE for it (see binding/lent.rs).
                Some(self.inner.lend(unsafe { JsBytes::new(c) }, token))
            })
            .collect();
        self.inner
            .submit(meta, external)
            .map_err(|e| to_js(&env, e))
    }

    /// Stops accepting and releases the port before returning.
    #[napi(catch_unwind)]
    pub fn close(&self, env: Env) -> napi::Result<()> {
        self.inner.close().map_err(|e| to_js(&env, e))
    }

    /// Closes idle connections now (HTTP/2: sessions without open streams).
    #[napi(catch_unwind)]
    pub fn close_idle(&self) {
        self.inner.close_idle();
    }

    /// Closes every connection now, cancelling open requests; with
    /// `upgraded`, upgraded sockets (WebSockets) too.
    #[napi(catch_unwind)]
    pub fn force(&self, upgraded: bool) {
        self.inner.force(upgraded);
    }

    /// What the open connections are doing.
    #[napi(catch_unwind)]
    pub fn connections_info(&self) -> NativeConnectionsInfo {
        let i = self.inner.info();
        let n = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
        NativeConnectionsInfo {
            idle: n(i.idle),
            active: n(i.active),
            http2_sessions: n(i.http2_sessions),
            http2_streams: n(i.http2_streams),
            upgraded: n(i.upgraded),
            handshaking: n(i.handshaking),
        }
    }

    /// Drops the worker-exit hook; called once the server has fully closed.
    #[napi(catch_unwind)]
    pub fn release(&mut self, env: Env) -> napi::Result<()> {
        match self.cleanup.take() {
            Some(hook) => env.remove_env_cleanup_hook(hook),
            None => Ok(()),
        }
    }

    /// Connections currently open.
    #[napi(catch_unwind)]
    pub fn connections(&self) -> u32 {
        self.inner.connections() as u32
    }
}
