//! A running server: the listener, the I/O thread and its runtime, and the
//! control handle JS holds.

use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use std::sync::{mpsc as std_mpsc, Arc, Mutex};
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

use crate::core::config::Config;
use crate::core::conn::{self, Shared, Signals};
use crate::core::dispatch::{Doorbell, Inbox, Outbox};
use crate::core::error::{Error, Result};
use crate::core::hub::Hub;
use crate::core::tracker::{Info, Tracker};
use crate::core::wire;

enum Control {
    /// Stop accepting, release the port, then acknowledge.
    Close(std_mpsc::SyncSender<()>),
}

/// State shared between the JS thread and the I/O thread.
struct Common {
    outbox: Arc<Outbox>,
    inbox: Inbox,
    tracker: Arc<Tracker>,
    /// Bumped by `close_idle()`; every connection task watches it.
    idle: watch::Sender<u64>,
    /// Bumped by `force()`; every connection task watches it.
    force: watch::Sender<u64>,
    /// Bumped by `force(true)`: upgraded connections end too.
    kill: watch::Sender<u64>,
    /// Set when the I/O thread has ended (see [`Server::wait_stopped`]).
    stopped: (Mutex<bool>, std::sync::Condvar),
}

/// A listening server. Dropping it does not stop it; call [`Server::close`].
pub struct Server {
    common: Arc<Common>,
    control: mpsc::UnboundedSender<Control>,
    local_addr: SocketAddr,
    closing: Mutex<bool>,
}

fn bind(addr: SocketAddr, backlog: i32, reuse_port: bool) -> Result<std::net::TcpListener> {
    let listen_err = |syscall| move |source| Error::Listen { syscall, source };
    let domain = if addr.is_ipv4() {
        Domain::IPV4
    } else {
        Domain::IPV6
    };
    let socket =
        Socket::new(domain, Type::STREAM, Some(Protocol::TCP)).map_err(listen_err("socket"))?;
    socket
        .set_reuse_address(true)
        .map_err(listen_err("setsockopt"))?;
    if reuse_port {
        // Several listeners share the port and the kernel spreads new
        // connections over them: a new process binds before the old one
        // closes, so a deploy leaves no moment without a listener.
        set_reuse_port(&socket).map_err(listen_err("setsockopt"))?;
    }
    if addr.is_ipv6() && addr.ip().is_unspecified() {
        // `::` accepts IPv4 too, as Node's default listen does.
        let _ = socket.set_only_v6(false);
    }
    socket.bind(&addr.into()).map_err(listen_err("listen"))?;
    socket.listen(backlog).map_err(listen_err("listen"))?;
    socket.set_nonblocking(true).map_err(listen_err("listen"))?;
    Ok(socket.into())
}

#[cfg(unix)]
fn set_reuse_port(socket: &Socket) -> std::io::Result<()> {
    socket.set_reuse_port(true)
}

#[cfg(not(unix))]
fn set_reuse_port(_socket: &Socket) -> std::io::Result<()> {
    Err(std::io::ErrorKind::Unsupported.into())
}

impl Server {
    /// Binds `host:port` and starts the I/O thread. Events go to `doorbell`.
    pub fn listen(
        host: &str,
        port: u16,
        config: Config,
        doorbell: Arc<dyn Doorbell>,
    ) -> Result<Server> {
        let ip: IpAddr = host
            .parse()
            .map_err(|_| Error::InvalidHost(host.to_string()))?;
        let listener = bind(SocketAddr::new(ip, port), config.backlog, config.reuse_port)?;
        let local_addr = listener.local_addr().map_err(|source| Error::Listen {
            syscall: "listen",
            source,
        })?;
        let outbox = Arc::new(Outbox::deferred(doorbell));
        let before_park = outbox.clone();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .on_thread_park(move || before_park.ring_if_pending())
            .build()
            .map_err(Error::Thread)?;
        let common = Arc::new(Common {
            outbox,
            inbox: Inbox::default(),
            tracker: Arc::new(Tracker::default()),
            idle: watch::Sender::new(0),
            force: watch::Sender::new(0),
            kill: watch::Sender::new(0),
            stopped: (Mutex::new(false), std::sync::Condvar::new()),
        });
        let (control, control_rx) = mpsc::unbounded_channel();
        let c = common.clone();
        std::thread::Builder::new()
            .name("lastcall-io".into())
            .spawn(move || {
                let outbox = c.outbox.clone();
                let end = c.clone();
                let run = std::panic::AssertUnwindSafe(|| {
                    let local = tokio::task::LocalSet::new();
                    local.block_on(&runtime, io_main(c, listener, config, control_rx));
                    // Dropping the LocalSet here ends what is left (readers
                    // of bodies nobody will take) before we report closed.
                    drop(local);
                    drop(runtime);
                });
                // A panic must not leave JS waiting forever for 'close'.
                let _ = std::panic::catch_unwind(run);
                let (stopped, cv) = &end.stopped;
                *stopped.lock().unwrap_or_else(|e| e.into_inner()) = true;
                cv.notify_all();
                outbox.closed();
            })
            .map_err(Error::Thread)?;
        Ok(Server {
            common,
            control,
            local_addr,
            closing: Mutex::new(false),
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Connections currently open (counted from accept to socket close).
    pub fn connections(&self) -> usize {
        self.common.tracker.open()
    }

    /// What the open connections are doing.
    pub fn info(&self) -> Info {
        self.common.tracker.info()
    }

    /// Closes every connection that has no request in flight, now (Node's
    /// `closeIdleConnections()`; HTTP/2 sessions without streams get GOAWAY).
    pub fn close_idle(&self) {
        self.common.idle.send_modify(|g| *g = g.wrapping_add(1));
    }

    /// Closes every connection now: open HTTP/2 streams get
    /// RST_STREAM(CANCEL), HTTP/1.1 connections mid-exchange are reset, and
    /// JS hears an abort for each open exchange (`closeAllConnections()`,
    /// and the shutdown deadline, DESIGN C9/C10).
    /// With `upgraded`, tunnels (WebSockets) are destroyed too; without it
    /// they are left alone, as Node's `closeAllConnections()` does.
    pub fn force(&self, upgraded: bool) {
        self.common.force.send_modify(|g| *g = g.wrapping_add(1));
        if upgraded {
            self.common.kill.send_modify(|g| *g = g.wrapping_add(1));
        }
    }

    /// Hands every pending event record, and the long body chunks they
    /// point to, to `read`.
    pub fn drain_with<R>(&self, read: impl FnOnce(&[u8], Vec<bytes::Bytes>) -> R) -> R {
        self.common.outbox.drain_with(read)
    }

    /// Queues one flush of response parts from JS.
    pub fn submit(&self, meta: &[u8], external: Vec<Option<bytes::Bytes>>) -> Result<()> {
        let ops = wire::decode_ops(meta, external)?;
        self.common.inbox.submit(ops);
        Ok(())
    }

    /// `bytes`, lent by the host, as a `Bytes` that returns them under
    /// `token` (an EV_RELEASE record) when dropped (see lent.rs).
    pub fn lend<T>(&self, bytes: T, token: u32) -> bytes::Bytes
    where
        T: AsRef<[u8]> + Send + 'static,
    {
        crate::core::lent::lend(bytes, token, self.common.outbox.clone())
    }

    /// Blocks until the I/O thread has ended: from then on nothing reads
    /// memory the host lent. For the host's last moment (a worker's
    /// environment going away), after [`Server::force`].
    pub fn wait_stopped(&self) {
        let (stopped, cv) = &self.common.stopped;
        let mut done = stopped.lock().unwrap_or_else(|e| e.into_inner());
        while !*done {
            done = cv.wait(done).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Starts closing: when this returns the port is released (DESIGN C1).
    /// The host hears [`Doorbell::closed`] once every connection has ended.
    pub fn close(&self) -> Result<()> {
        {
            let mut closing = self.closing.lock().unwrap_or_else(|e| e.into_inner());
            if *closing {
                return Err(Error::NotRunning);
            }
            *closing = true;
        }
        let (ack, acked) = std_mpsc::sync_channel(1);
        if self.control.send(Control::Close(ack)).is_ok() {
            // The I/O thread drops the listener and answers at once; the
            // bound only matters if that thread is gone or wedged.
            let _ = acked.recv_timeout(Duration::from_secs(5));
        }
        Ok(())
    }
}

async fn pump(hub: Rc<Hub>, common: Arc<Common>) {
    loop {
        let ops = common.inbox.next().await;
        hub.apply(ops);
    }
}

async fn io_main(
    common: Arc<Common>,
    listener: std::net::TcpListener,
    config: Config,
    mut control: mpsc::UnboundedReceiver<Control>,
) {
    let hub = Hub::new(common.outbox.clone());
    hub.set_request_timeout(config.request_timeout);
    hub.set_session_memory(config.h2_max_session_memory);
    let pump = tokio::task::spawn_local(pump(hub.clone(), common.clone()));
    let sweeper = tokio::task::spawn_local(hub.clone().sweep_deadlines());
    let shared = Rc::new(Shared::new(hub, config, common.tracker.clone()));
    let (closing_tx, closing_rx) = watch::channel(false);
    let mut next_conn: u32 = 0;
    let mut accept = |stream: tokio::net::TcpStream, remote: SocketAddr| {
        next_conn = next_conn.wrapping_add(1);
        let id = next_conn;
        let local = stream.local_addr().unwrap_or(remote);
        common
            .outbox
            .push(|b| wire::put_conn_open(b, id, local, remote));
        let guard = common.tracker.track(id, common.outbox.clone());
        let signals = Signals {
            closing: closing_rx.clone(),
            idle: common.idle.subscribe(),
            force: common.force.subscribe(),
            kill: common.kill.subscribe(),
        };
        tokio::task::spawn_local(conn::serve(shared.clone(), stream, id, signals, guard));
    };
    match TcpListener::from_std(listener) {
        Ok(listener) => loop {
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, remote)) => accept(stream, remote),
                    // Out of descriptors or a connection reset before we took
                    // it: back off briefly instead of spinning.
                    Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
                },
                cmd = control.recv() => {
                    let ack = cmd.map(|Control::Close(ack)| ack);
                    // Connections the kernel already accepted into the backlog
                    // are taken and served as closing, not reset (DESIGN C1).
                    // The std listener is non-blocking: accept until WouldBlock.
                    if let Ok(std_listener) = listener.into_std() {
                        while let Ok((stream, remote)) = std_listener.accept() {
                            let stream = stream.set_nonblocking(true).and_then(|()| tokio::net::TcpStream::from_std(stream));
                            if let Ok(stream) = stream {
                                accept(stream, remote);
                            }
                        }
                    }
                    shared.hub.set_closing();
                    let _ = closing_tx.send(true);
                    if let Some(ack) = ack {
                        let _ = ack.send(());
                    }
                    break;
                }
            }
        },
        Err(_) => {
            // Without a reactor registration nothing can be served; wait for
            // close() so JS sees the usual lifecycle.
            if let Some(Control::Close(ack)) = control.recv().await {
                let _ = ack.send(());
            }
        }
    }
    common.tracker.wait_zero().await;
    pump.abort();
    sweeper.abort();
}
