//! The request-body reader: one task per body JS reads, turning hyper's
//! frames into EV_BODY records as far as JS's credit allows, then EV_END.

use std::future::poll_fn;
use std::pin::Pin;

use http_body::Body;
use hyper::body::Incoming;

use crate::core::credit::Credit;
use crate::core::dispatch::Outbox;
use crate::core::wire;

/// How a reader ended.
#[derive(Debug, PartialEq, Eq)]
pub enum ReadEnd {
    /// The body arrived whole; JS heard EV_END.
    Ended,
    /// The body failed (the client went away, the stream was reset).
    Failed,
    /// The body is malformed (HTTP/1.1: bad chunked encoding).
    Malformed,
    /// Told to stop (the exchange ended first).
    Stopped,
}

/// Reads `body` of exchange `id` into `outbox`, never more than `credit`
/// allows ahead of JS.
pub async fn read(outbox: &Outbox, id: u32, mut body: Incoming, credit: &Credit) -> ReadEnd {
    loop {
        if !credit.ready().await {
            return ReadEnd::Stopped;
        }
        match poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
            Some(Ok(frame)) => {
                let data = match frame.into_data() {
                    Ok(data) => data,
                    Err(frame) => {
                        if let Ok(trailers) = frame.into_trailers() {
                            outbox.push(|b| wire::put_trailers(b, id, &trailers));
                        }
                        continue;
                    }
                };
                if data.is_empty() {
                    continue;
                }
                credit.spend(data.len());
                outbox.push_body(id, data);
                // A Content-Length body is complete with its last byte. hyper
                // closes the body channel a step later, and on HTTP/1.1 it
                // skips that step when the response was already written
                // (its connection goes idle first): waiting for the close
                // would leave JS without 'end' and the exchange unfreed.
                if body.is_end_stream() {
                    outbox.push_event(wire::EV_END, id);
                    return ReadEnd::Ended;
                }
            }
            Some(Err(e)) if is_malformed(&e) => return ReadEnd::Malformed,
            Some(Err(_)) => return ReadEnd::Failed,
            None => {
                outbox.push_event(wire::EV_END, id);
                return ReadEnd::Ended;
            }
        }
    }
}

/// Whether a body error is bad input rather than a client gone: hyper's
/// chunked decoder fails with `InvalidInput`/`InvalidData` (a bad size
/// line, data longer than its size, an overflow), a vanished client with
/// `UnexpectedEof` or a closed connection.
fn is_malformed(e: &hyper::Error) -> bool {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return matches!(
                io.kind(),
                std::io::ErrorKind::InvalidInput | std::io::ErrorKind::InvalidData
            );
        }
        source = s.source();
    }
    false
}
