//! A harness for the core's own tests: real connections on 127.0.0.1,
//! served by [`conn::serve`] with a hub whose outbox the test reads as JS
//! would, and ops the test applies as JS would.

use std::future::Future;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::core::config::Config;
use crate::core::conn::{self, Shared, Signals};
use crate::core::dispatch::{Outbox, Quiet};
use crate::core::hub::Hub;
use crate::core::tracker::Tracker;
use crate::core::wire::{self, Op};

/// One event record, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ev {
    /// EV_REQUEST: its exchange id, flags and URL.
    Request(u32, u8, String),
    /// EV_BODY (inline or beside the records).
    Body(u32, Bytes),
    /// EV_END.
    End(u32),
    /// EV_ABORT.
    Abort(u32),
    /// EV_DRAIN.
    Drain(u32),
    /// EV_CONN_CLOSE.
    ConnClose(u32),
    /// EV_CLIENT_ERROR: the connection and the kind.
    ClientError(u32, u8),
}

fn decode(records: &[u8], chunks: &[Bytes], into: &mut Vec<Option<Ev>>) {
    let u32_at = |p: usize| u32::from_le_bytes(records[p..p + 4].try_into().unwrap());
    let mut p = 0;
    while p < records.len() {
        let kind = records[p];
        let id = u32_at(p + 1);
        p += 5;
        into.push(Some(match kind {
            wire::EV_REQUEST => {
                let flags = records[p + 5];
                let m = records[p + 6] as usize;
                p += 7 + m;
                let url_len = u32_at(p) as usize;
                let url = String::from_utf8_lossy(&records[p + 4..p + 4 + url_len]).into_owned();
                p += 4 + url_len;
                p += 4 + u32_at(p) as usize;
                Ev::Request(id, flags, url)
            }
            wire::EV_BODY => {
                let len = u32_at(p) as usize;
                let data = Bytes::copy_from_slice(&records[p + 4..p + 4 + len]);
                p += 4 + len;
                Ev::Body(id, data)
            }
            wire::EV_BODY_AT => {
                let index = u32_at(p) as usize;
                p += 4;
                Ev::Body(id, chunks[index].clone())
            }
            wire::EV_END => Ev::End(id),
            wire::EV_ABORT => Ev::Abort(id),
            wire::EV_DRAIN => Ev::Drain(id),
            wire::EV_CONN_CLOSE => Ev::ConnClose(id),
            wire::EV_CLIENT_ERROR => {
                let kind = records[p];
                p += 1;
                Ev::ClientError(id, kind)
            }
            other => panic!("unexpected record {other}"),
        }));
    }
}

/// A hub and a listener, with the server's signals in the test's hands.
pub struct Rig {
    /// What JS would drain.
    pub out: Arc<Outbox>,
    /// The hub JS's ops go to.
    pub hub: Rc<Hub>,
    /// The server's connection count and gauges.
    pub tracker: Arc<Tracker>,
    /// The server's closing level.
    pub closing: watch::Sender<bool>,
    /// `force()`.
    pub force: watch::Sender<u64>,
    /// Every event seen so far, in order; `None` once taken.
    seen: Vec<Option<Ev>>,
    idle: watch::Sender<u64>,
    kill: watch::Sender<u64>,
    shared: Rc<Shared>,
    listener: TcpListener,
    next_conn: u32,
}

impl Rig {
    /// A rig with `config`; must run inside a `LocalSet`.
    pub async fn new(config: Config) -> Rig {
        let out = Arc::new(Outbox::new(Arc::new(Quiet)));
        let hub = Hub::new(out.clone());
        hub.set_request_timeout(config.request_timeout);
        let tracker = Arc::new(Tracker::default());
        let shared = Rc::new(Shared::new(hub.clone(), config, tracker.clone()));
        Rig {
            out,
            hub,
            tracker,
            closing: watch::Sender::new(false),
            force: watch::Sender::new(0),
            seen: Vec::new(),
            idle: watch::Sender::new(0),
            kill: watch::Sender::new(0),
            shared,
            listener: TcpListener::bind("127.0.0.1:0").await.unwrap(),
            next_conn: 0,
        }
    }

    /// A client, and the task that serves its connection (not spawned).
    pub async fn connect(&mut self) -> (TcpStream, impl Future<Output = ()>) {
        let client = TcpStream::connect(self.listener.local_addr().unwrap())
            .await
            .unwrap();
        let (stream, _) = self.listener.accept().await.unwrap();
        self.next_conn += 1;
        let id = self.next_conn;
        let signals = Signals {
            closing: self.closing.subscribe(),
            idle: self.idle.subscribe(),
            force: self.force.subscribe(),
            kill: self.kill.subscribe(),
        };
        let guard = self.tracker.track(id, self.out.clone());
        let task = conn::serve(self.shared.clone(), stream, id, signals, guard);
        (client, task)
    }

    /// A client whose connection is being served.
    pub async fn client(&mut self) -> TcpStream {
        let (client, task) = self.connect().await;
        tokio::task::spawn_local(task);
        client
    }

    /// Waits for the first event not taken yet that `want` picks, and
    /// takes it.
    pub async fn wait_for<T>(&mut self, want: impl Fn(&Ev) -> Option<T>) -> T {
        for _ in 0..5000 {
            let seen = &mut self.seen;
            self.out.drain_with(|r, c| decode(r, &c, seen));
            for slot in self.seen.iter_mut() {
                if let Some(found) = slot.as_ref().and_then(&want) {
                    *slot = None;
                    return found;
                }
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        panic!("event not seen; got {:?}", self.seen);
    }

    /// Waits for the next request and returns its exchange id.
    pub async fn next_request(&mut self) -> u32 {
        self.wait_for(|e| match e {
            Ev::Request(id, ..) => Some(*id),
            _ => None,
        })
        .await
    }

    /// Every event not taken yet, after one more drain.
    pub fn untaken(&mut self) -> Vec<Ev> {
        let seen = &mut self.seen;
        self.out.drain_with(|r, c| decode(r, &c, seen));
        self.seen.iter().flatten().cloned().collect()
    }

    /// Answers exchange `id` with 200 and `body`, as `res.end(body)` does.
    pub fn respond(&self, id: u32, body: &'static [u8]) {
        self.hub.apply(vec![
            Op::Head {
                id,
                status: 200,
                reason: None,
                headers: vec![],
                end: false,
                keep_alive: false,
                keep_alive_timeout: false,
            },
            Op::Data {
                id,
                chunk: Bytes::from_static(body),
                end: true,
                want_drain: false,
            },
        ]);
    }
}

/// Reads from `client` until what arrived contains `needle`.
pub async fn read_until(client: &mut TcpStream, needle: &str) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&got).contains(needle) {
        let n = tokio::time::timeout(Duration::from_secs(5), client.read(&mut buf))
            .await
            .expect("response in time")
            .expect("read");
        assert!(
            n > 0,
            "EOF before {needle:?}: {}",
            String::from_utf8_lossy(&got)
        );
        got.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&got).into_owned()
}

/// Reads from `client` until EOF (or a reset); what arrived.
pub async fn read_to_eof(client: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), client.read_to_end(&mut got))
        .await
        .expect("EOF in time");
    String::from_utf8_lossy(&got).into_owned()
}

/// Runs `test` on a `LocalSet`, as the I/O thread runs the core.
pub async fn local<F: Future<Output = ()>>(test: F) {
    tokio::task::LocalSet::new().run_until(test).await;
}
