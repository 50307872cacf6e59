//! Mirror streams (`[[mirror]]`): each remote URL of a mirror is one stream, run by shard
//! `shard_for(stream index)` as a task that dials the remote (a WebSocket client), catches up
//! (`catch_up`: NIP-77 negentropy when the remote speaks it, else REQ pages walking back), then
//! holds a live REQ. Every event received takes the checks a client's takes
//! (`client::ingest`; NIP-70 protected events are refused, their author is not here; sourceType
//! "Stream" to the write-policy plugin) and goes to the writer under the stream's id; the shard
//! tells the stream what became of it. How far a stream got is kept in a file per stream
//! (`<data_dir>/mirrors/`), written once every event it covers is settled; a restart resumes
//! from it. A lost connection is dialled again after a backoff (1 s doubling to 60 s, jittered).

mod catch_up;
mod dial;
mod up;

use std::cell::{Cell, RefCell};
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use futures_util::StreamExt;
use parrhesia_engine::mirror::{self as plan, Progress};
use parrhesia_engine::write_policy::{Source, SourceType};
use parrhesia_engine::{Event, Filter, KindClass, Prefix, Reason, RelayMessage};
use parrhesia_storage::Outcome;

use crate::client::ingest::{self, Answer};
use crate::config::{Config, MirrorDirection};
use crate::metrics::{MirrorMetrics, OUTCOME_DUPLICATE, OUTCOME_EPHEMERAL, OUTCOME_STORED, refusal_outcome};
use crate::notify::Notify;
use crate::shard::Shard;

/// The byte stream beneath a stream's WebSocket: TCP, or TLS over it.
trait Wire: futures_lite::AsyncRead + futures_lite::AsyncWrite + Unpin {}
impl<T: futures_lite::AsyncRead + futures_lite::AsyncWrite + Unpin> Wire for T {}

type Socket = async_tungstenite::WebSocketStream<Box<dyn Wire>>;
/// How long a remote may stay silent while the stream waits for an answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);
/// A live stream pings its remote this often, and redials one silent for three times as long.
const PING_INTERVAL: Duration = Duration::from_secs(30);
/// A live stream writes its progress this often: the time `PROGRESS_MARGIN` before the last
/// write, once every event received before it is settled.
const PROGRESS_INTERVAL: Duration = Duration::from_secs(30);
const PROGRESS_MARGIN_SECONDS: u64 = 60;
/// Events one stream may have at the writer, unanswered.
const IN_FLIGHT_MAX: u64 = 1024;
/// Ids a stream remembers having taken (each judged once per connection; twice this at most).
const RECENT_IDS: usize = 65_536;
/// With `both`, ids received from the remote that are never published back, at least (twice
/// this at most: 32 MiB).
const FROM_REMOTE_IDS: usize = 1 << 19;
/// Redial backoff bounds; a connection that lasted `BACKOFF_RESET` starts over at the least.
const BACKOFF_MIN: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(60);
const BACKOFF_RESET: Duration = Duration::from_secs(60);

/// Everything one stream is started with.
pub struct StreamSetup {
    pub mirror: String,
    pub direction: MirrorDirection,
    pub url: String,
    pub filter: Filter,
    pub catch_up_seconds: u64,
    pub progress_file: PathBuf,
    pub metrics: Arc<MirrorMetrics>,
    /// TLS for `wss://` (the mirror's `ca_file`, or the built-in roots).
    pub tls: Arc<rustls::ClientConfig>,
    /// The mirror's own write-policy plugin command.
    pub plugin: Option<String>,
}

/// Every stream the configuration names, in order (stream `i` runs on `shard_for(i, shards)`);
/// fails if a mirror's `ca_file` holds no usable certificate.
pub fn streams(config: &Config) -> anyhow::Result<Vec<StreamSetup>> {
    let directory = config.data_dir.join("mirrors");
    let mut streams = Vec::new();
    for mirror in &config.mirror {
        let filter = mirror.decoded_filter().expect("validated when the configuration loaded");
        let tls = parrhesia_net::relay_client::tls_config(mirror.ca_file.as_deref())
            .with_context(|| format!("configuration key `mirror.ca_file` of `{}`", mirror.name))?;
        for url in &mirror.urls {
            let file = format!("{}-{:016x}.json", mirror.name, xxhash_rust::xxh3::xxh3_64(url.as_bytes()));
            streams.push(StreamSetup {
                mirror: mirror.name.clone(),
                direction: mirror.dir,
                url: url.clone(),
                filter: filter.clone(),
                catch_up_seconds: mirror.catch_up_seconds,
                progress_file: directory.join(file),
                metrics: Arc::new(MirrorMetrics::new(&mirror.name, url)),
                tls: tls.clone(),
                plugin: mirror.plugin.clone(),
            });
        }
    }
    Ok(streams)
}

/// The shard that runs stream `index`.
pub fn shard_for(index: usize, shards: usize) -> usize {
    index % shards
}

/// Starts this shard's streams; each runs until the shard stops.
pub fn start(shard: &Rc<Shard>, setups: Vec<StreamSetup>) {
    for setup in setups {
        let plugin = setup
            .plugin
            .clone()
            .map(|command| crate::plugin::WritePolicy::configured(command, &shard.config, shard.metrics.clone()));
        let stream = Rc::new(Stream {
            plugin,
            id: shard.next_connection_id(),
            shard: shard.clone(),
            filter_json: setup.filter.to_json(),
            setup,
            issued: Cell::new(0),
            settled: Cell::new(0),
            settled_wake: Notify::default(),
            recent: RefCell::new(plan::RecentIds::new(RECENT_IDS)),
            from_remote: RefCell::new(plan::RecentIds::new(FROM_REMOTE_IDS)),
            transient: Cell::new(false),
            attempts: RefCell::default(),
        });
        // Weak: the shard holds the stream's outcome sink, the stream holds the shard.
        let told = Rc::downgrade(&stream);
        let sink = move |outcome: &Outcome| {
            if let Some(stream) = told.upgrade() {
                stream.settle(outcome);
            }
        };
        shard.streams.borrow_mut().insert(stream.id, Rc::new(sink));
        glommio::spawn_local(run(stream)).detach();
    }
}

/// One stream's state on its shard.
pub(crate) struct Stream {
    /// The connection id its events go to the writer under.
    id: u64,
    shard: Rc<Shard>,
    setup: StreamSetup,
    filter_json: String,
    /// Events handed to the writer, and those it answered.
    issued: Cell<u64>,
    settled: Cell<u64>,
    settled_wake: Notify,
    /// What this connection to the remote took already (`plan::RecentIds`).
    recent: RefCell<plan::RecentIds>,
    /// With `both`: ids received from the remote, never sent back to it (across reconnects).
    from_remote: RefCell<plan::RecentIds>,
    /// The mirror's own plugin (`StreamSetup::plugin`), this stream's process.
    plugin: Option<crate::plugin::WritePolicy>,
    /// An event of this session met a failure that may pass: the down progress must not move.
    transient: Cell<bool>,
    /// Failures that may pass, by event id (`failed_for_now`).
    attempts: RefCell<std::collections::HashMap<[u8; 32], u8>>,
}

/// Times an event may be refused for a reason that may pass before it counts as refused, and
/// how many such events a stream tracks (then it starts over).
const ATTEMPTS_MAX: u8 = 3;
const ATTEMPTS_TRACKED_MAX: usize = 10_000;
/// Why a session ends after an event met a failure that may pass.
const RETRYING: &str = "an event was refused for a reason that may pass (error:, rate-limited:): \
                        catching up again from the last point reached";

/// Why a session with the remote ended.
enum Ended {
    Stopping,
    Failed(anyhow::Error),
}

impl From<anyhow::Error> for Ended {
    fn from(error: anyhow::Error) -> Ended {
        Ended::Failed(error)
    }
}

async fn run(stream: Rc<Stream>) {
    let mut backoff = BACKOFF_MIN;
    let _unregister = Unregister(&stream);
    loop {
        let started = Instant::now();
        let ended = stream.session().await;
        stream.setup.metrics.connected.set(0);
        stream.setup.metrics.catching_up.set(0);
        stream.setup.metrics.catch_up_ids_left.set(0);
        stream.setup.metrics.catch_up_seconds_left.set(0);
        match ended {
            Ended::Stopping => return,
            Ended::Failed(error) => {
                tracing::warn!(mirror = %stream.setup.mirror, url = %stream.setup.url, error = %format!("{error:#}"),
                    "mirror stream interrupted; dialling again");
            }
        }
        if started.elapsed() >= BACKOFF_RESET {
            backoff = BACKOFF_MIN;
        }
        // Jitter: up to a quarter more, so streams cut together do not redial together.
        let mut random = [0u8; 2];
        let _ = getrandom::fill(&mut random);
        let jitter = backoff.mul_f64(f64::from(u16::from_le_bytes(random)) / f64::from(u16::MAX) / 4.0);
        if stream.pause(backoff + jitter).await {
            return;
        }
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

/// Takes a stream's outcome sink off its shard when its task ends.
struct Unregister<'a>(&'a Stream);

impl Drop for Unregister<'_> {
    fn drop(&mut self) {
        self.0.shard.streams.borrow_mut().remove(&self.0.id);
    }
}

impl Stream {
    /// One connection: dial, catch up, go live; returns when it ends.
    async fn session(&self) -> Ended {
        if self.shard.stopping.get() {
            return Ended::Stopping;
        }
        // Twice this relay's own frame bound, at least 1 MiB: a remote's events may be larger
        // than this relay takes (they are refused one by one), its negentropy messages too.
        let message_bytes_max = (self.shard.config.frame_bytes_max * 2).max(1 << 20);
        let mut socket = match dial::dial(&self.setup.url, &self.setup.tls, message_bytes_max).await {
            Ok(socket) => socket,
            Err(error) => return Ended::Failed(error),
        };
        let metrics = &self.setup.metrics;
        metrics.connected.set(1);
        metrics.connects.inc();
        self.recent.replace(plan::RecentIds::new(RECENT_IDS));
        self.transient.set(false);
        let mut progress = self.load_progress();
        if let Some(through) = progress.down_through {
            metrics.down_through_seconds.set(i64::try_from(through).unwrap_or(i64::MAX));
        }
        let reached = crate::system::unix_now();
        let since = progress.catch_up_since(reached, self.setup.catch_up_seconds);
        let mut knowledge = None;
        let snapshot_seq = self.shard.store.last_seq().unwrap_or(0);
        if self.setup.direction.down() {
            metrics.catching_up.set(1);
            match catch_up::run(self, &mut socket, since).await {
                Ok(remote) => {
                    knowledge = remote.map(|remote| up::Knowledge { since, snapshot_seq, remote });
                }
                Err(ended) => return ended,
            }
            if let Err(ended) = self.settle_all().await {
                return ended;
            }
            if self.transient.get() {
                return Ended::Failed(anyhow::anyhow!(RETRYING));
            }
            metrics.catching_up.set(0);
            self.reach(&mut progress, reached);
            self.save_progress(&progress);
        }
        if progress.up_seq.is_none() && progress.up_first_run.is_none() {
            progress.up_first_run = Some((snapshot_seq, since));
        }
        let filter = &self.setup.filter;
        let mut up =
            self.setup.direction.up().then(|| up::Up::new(progress.up_seq, progress.up_first_run, filter, knowledge));
        let live_since = reached.saturating_sub(PROGRESS_MARGIN_SECONDS);
        let ended = self.live(&mut socket, &mut progress, live_since, &mut up).await;
        // What the remote answered stays answered (a stop, a lost connection).
        if let Some(up) = &up {
            up.record(&mut progress);
            self.save_progress(&progress);
        }
        match ended {
            Ok(()) => Ended::Failed(anyhow::anyhow!("the remote closed the connection")),
            Err(ended) => ended,
        }
    }

    /// Live: down, a subscription to events dated from `since` on; up, this relay's log
    /// published from the stream's cursor as the remote answers. Until the connection ends.
    async fn live(
        &self,
        socket: &mut Socket,
        progress: &mut Progress,
        since: u64,
        up: &mut Option<up::Up>,
    ) -> Result<(), Ended> {
        if self.setup.direction.down() {
            let filter = plan::narrowed(&self.setup.filter, since, None, None);
            send(socket, plan::request("REQ", "mirror-live", &[filter])).await?;
        }
        let mut last_heard = Instant::now();
        let mut next_ping = Instant::now() + PING_INTERVAL;
        let mut next_progress = Instant::now() + PROGRESS_INTERVAL;
        // Down: (time, events issued by then), written once they are all settled.
        let mut candidate: Option<(u64, u64)> = None;
        loop {
            let now = Instant::now();
            if now >= next_ping {
                if now.duration_since(last_heard) >= PING_INTERVAL * 3 {
                    return Err(Ended::Failed(anyhow::anyhow!("the remote has been silent for 90 s")));
                }
                send_message(socket, tungstenite::Message::Ping(Vec::new().into())).await?;
                next_ping = now + PING_INTERVAL;
            }
            if now >= next_progress {
                if self.transient.get() {
                    return Err(Ended::Failed(anyhow::anyhow!(RETRYING)));
                }
                if let Some((time, _)) = candidate.take_if(|(_, issued)| self.settled.get() >= *issued) {
                    self.reach(progress, time);
                }
                if candidate.is_none() && self.setup.direction.down() {
                    let time = crate::system::unix_now().saturating_sub(PROGRESS_MARGIN_SECONDS);
                    candidate = Some((time, self.issued.get()));
                }
                if let Some(up) = &up {
                    up.record(progress);
                }
                self.save_progress(progress);
                next_progress = now + PROGRESS_INTERVAL;
            }
            // A commit landing while `push` awaits a send still wakes the wait below.
            let committed = self.shard.committed.generation();
            let more = match up {
                Some(up) => {
                    let more = up.push(self, socket).await?;
                    let behind = self.shard.last_seq_seen.get().saturating_sub(up.cursor());
                    self.setup.metrics.up_behind_positions.set(i64::try_from(behind).unwrap_or(i64::MAX));
                    more
                }
                None => false,
            };
            let wait = if more {
                // More of the log to read: let the shard's other tasks run between reads.
                glommio::yield_if_needed().await;
                Duration::ZERO
            } else {
                next_ping.min(next_progress).saturating_duration_since(Instant::now())
            };
            let woken = up.is_some().then_some((&self.shard.committed, committed));
            let Some(message) = self.next(socket, wait, woken).await? else { continue };
            last_heard = Instant::now();
            match message {
                Some(RelayMessage::Event { subscription_id, event }) if subscription_id == "mirror-live" => {
                    self.take(&event).await?;
                }
                Some(RelayMessage::Closed { subscription_id, message }) if subscription_id == "mirror-live" => {
                    return Err(Ended::Failed(anyhow::anyhow!("the remote closed the live subscription: {message}")));
                }
                Some(RelayMessage::Ok { event_id, accepted, message }) => {
                    if let Some(up) = up {
                        up.on_ok(self, &event_id, accepted, &message);
                    }
                }
                _ => {}
            }
        }
    }

    /// The next frame within `wait` (or until `woken` is told): `Ok(None)` when none came,
    /// `Ok(Some(None))` for a frame that is not a relay message (pongs, garbage), `Err` when
    /// the connection ends or the shard stops.
    async fn next(
        &self,
        socket: &mut Socket,
        wait: Duration,
        woken: Option<(&Notify, u64)>,
    ) -> Result<Option<Option<RelayMessage<'static>>>, Ended> {
        // A stop told while this stream awaited something else is seen here.
        if self.shard.stopping.get() {
            return Err(Ended::Stopping);
        }
        let read = async { Some(glommio::timer::timeout(wait, async { Ok(socket.next().await) }).await) };
        let stopped = async {
            self.shard.stop.notified().await;
            None
        };
        // Woken: as if the wait ran out.
        let woken = async {
            match woken {
                Some((notify, generation)) => notify.notified_since(generation).await,
                None => std::future::pending().await,
            }
            Some(Err(glommio::GlommioError::<()>::TimedOut(Duration::ZERO)))
        };
        let read = futures_lite::future::or(read, woken);
        let Some(read) = futures_lite::future::or(read, stopped).await else { return Err(Ended::Stopping) };
        match read {
            Err(_) => Ok(None),
            Ok(None) => Err(Ended::Failed(anyhow::anyhow!("the remote closed the connection"))),
            Ok(Some(Err(error))) => Err(wire_error(error)),
            Ok(Some(Ok(tungstenite::Message::Text(text)))) => Ok(Some(RelayMessage::decode(text.as_str()).ok())),
            Ok(Some(Ok(tungstenite::Message::Close(_)))) => {
                Err(Ended::Failed(anyhow::anyhow!("the remote closed the connection")))
            }
            Ok(Some(Ok(_))) => Ok(Some(None)),
        }
    }

    /// The next relay message, within `ANSWER_TIMEOUT` of silence.
    async fn answer(&self, socket: &mut Socket) -> Result<RelayMessage<'static>, Ended> {
        let deadline = Instant::now() + ANSWER_TIMEOUT;
        loop {
            let wait = deadline.saturating_duration_since(Instant::now());
            match self.next(socket, wait, None).await? {
                None => return Err(Ended::Failed(anyhow::anyhow!("no answer from the remote in 60 s"))),
                Some(None) => {}
                Some(Some(message)) => return Ok(message),
            }
        }
    }

    /// Takes one event the remote sent (its JSON): checked as a client's, then to the writer.
    /// Returns its id and created_at when it parsed.
    async fn take(&self, json: &str) -> Result<Option<([u8; 32], u64)>, Ended> {
        let event = match Event::parse(json, &self.shard.limits) {
            Ok(event) => event,
            Err(reason) => {
                self.count(refusal_outcome(reason.prefix));
                return Ok(None);
            }
        };
        let taken = Some((*event.id(), event.created_at()));
        if self.setup.direction.up() {
            self.from_remote.borrow_mut().insert(event.id());
        }
        if !self.recent.borrow_mut().insert(event.id()) {
            return Ok(taken);
        }
        if !self.setup.filter.matches(&event) {
            self.count(refusal_outcome(Prefix::Invalid));
            return Ok(taken);
        }
        // An event given up on is not put to the plugin that fails on it again.
        if self.attempts.borrow().get(event.id()).is_some_and(|tried| *tried >= ATTEMPTS_MAX) {
            self.count(refusal_outcome(Prefix::Error));
            return Ok(taken);
        }
        if let Err(answer) = self.judge(&event).await {
            self.count(answer.outcome);
            // The session ends at once: the events after this one would likely meet the same
            // failure (a plugin restarting) and be tried again for nothing.
            if passing(answer.outcome) && self.failed_for_now(Some(event.id())) {
                return Err(Ended::Failed(anyhow::anyhow!(RETRYING)));
            }
            return Ok(taken);
        }
        if event.kind_class() == KindClass::Ephemeral {
            self.shard.publish_ephemeral(&event).await;
            self.count(OUTCOME_EPHEMERAL);
            return Ok(taken);
        }
        while self.issued.get() - self.settled.get() >= IN_FLIGHT_MAX {
            self.settled_wake.notified().await;
        }
        self.issued.set(self.issued.get() + 1);
        if self.shard.submit(self.id, event).await.is_err() {
            // The writer takes no more (shutdown): the event was not stored, nothing moves past it.
            self.issued.set(self.issued.get() - 1);
            return Err(Ended::Stopping);
        }
        Ok(taken)
    }

    /// The checks a client's event takes that apply to a stream's (not AUTH: the stream is no
    /// one; so NIP-70 protected events are refused, and NIP-43 requests are not taken).
    async fn judge(&self, event: &Event) -> Result<(), Answer> {
        ingest::check(&self.shard, event, None)?;
        if event.is_protected() {
            let reason = "this event is protected (NIP-70): only its author may publish it here";
            return Err(Answer::refused(Reason::new(Prefix::Restricted, reason)));
        }
        if let Some(members) = &self.shard.members {
            let request =
                matches!(event.kind(), parrhesia_engine::nip43::JOIN_REQUEST | parrhesia_engine::nip43::LEAVE_REQUEST);
            if request || (members.members_only && !members.is_member(&self.shard.store, event.pubkey())) {
                return Err(Answer::refused(crate::client::session::members_only()));
            }
        }
        let source = Source { kind: SourceType::Stream, info: &self.setup.url, authed: None };
        for plugin in [&self.shard.write_policy, &self.plugin].into_iter().flatten() {
            ingest::ask_plugin(plugin, event, &source).await?;
        }
        Ok(())
    }

    fn count(&self, outcome: usize) {
        self.setup.metrics.events_down[outcome].inc();
    }

    /// An event (`None`: one at the writer) was refused for a reason that may pass (`error:`:
    /// the store, a plugin that failed; `rate-limited:`: a busy plugin). The session ends at
    /// once (for one at the writer: once caught up, or at its next progress tick) without
    /// moving its progress, so the next one asks for the event again; after `ATTEMPTS_MAX`
    /// such refusals the event counts as refused (a plugin that fails on it every time).
    /// Returns whether it will be tried again.
    fn failed_for_now(&self, id: Option<&[u8; 32]>) -> bool {
        if let Some(id) = id {
            let mut attempts = self.attempts.borrow_mut();
            if attempts.len() >= ATTEMPTS_TRACKED_MAX {
                attempts.clear();
            }
            let tried = attempts.entry(*id).or_default();
            *tried += 1;
            if *tried >= ATTEMPTS_MAX {
                tracing::warn!(mirror = %self.setup.mirror, url = %self.setup.url, id = %parrhesia_engine::hex::encode(id),
                    "an event failed {ATTEMPTS_MAX} times for reasons that may pass; counted as refused");
                return false;
            }
        }
        self.transient.set(true);
        true
    }

    /// Moves the down progress to `time`, unless an event of this session met a failure that
    /// may pass.
    fn reach(&self, progress: &mut Progress, time: u64) {
        if !self.transient.get() {
            progress.down_through = Some(progress.down_through.map_or(time, |before| before.max(time)));
        }
    }

    /// The writer's answer for one of this stream's events.
    fn settle(&self, outcome: &Outcome) {
        let counted = match outcome {
            Outcome::Stored { .. } => OUTCOME_STORED,
            Outcome::Duplicate => OUTCOME_DUPLICATE,
            Outcome::Rejected(reason) => refusal_outcome(reason.prefix),
        };
        self.count(counted);
        if passing(counted) {
            self.failed_for_now(None);
        }
        self.settled.set(self.settled.get() + 1);
        self.settled_wake.notify_all();
    }

    /// Waits until the writer has answered every event handed to it.
    async fn settle_all(&self) -> Result<(), Ended> {
        while self.settled.get() < self.issued.get() {
            let stopped = futures_lite::future::or(
                async {
                    self.settled_wake.notified().await;
                    false
                },
                async {
                    self.shard.stop.notified().await;
                    true
                },
            )
            .await;
            if stopped {
                return Err(Ended::Stopping);
            }
        }
        Ok(())
    }

    /// Sleeps `duration`; true if the shard began stopping meanwhile.
    async fn pause(&self, duration: Duration) -> bool {
        futures_lite::future::or(
            async {
                glommio::timer::sleep(duration).await;
                self.shard.stopping.get()
            },
            async {
                self.shard.stop.notified().await;
                true
            },
        )
        .await
    }

    fn load_progress(&self) -> Progress {
        let text = std::fs::read_to_string(&self.setup.progress_file).ok();
        Progress::resume(text.as_deref(), &self.setup.url, &self.filter_json)
    }

    /// Writes the stream's progress. A failed write is logged: the stream then resumes from an
    /// earlier point, fetching (or publishing) again what was done.
    fn save_progress(&self, progress: &Progress) {
        let file = &self.setup.progress_file;
        let written = file
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(file.with_extension("tmp"), progress.to_json()))
            .and_then(|()| std::fs::rename(file.with_extension("tmp"), file));
        match written {
            Ok(()) => {
                if let Some(through) = progress.down_through {
                    self.setup.metrics.down_through_seconds.set(i64::try_from(through).unwrap_or(i64::MAX));
                }
            }
            Err(error) => tracing::warn!(file = %file.display(), %error, "cannot write a mirror stream's progress"),
        }
    }
}

/// Whether a refusal may pass (`error:`, `rate-limited:`).
fn passing(outcome: usize) -> bool {
    outcome == refusal_outcome(Prefix::Error) || outcome == refusal_outcome(Prefix::RateLimited)
}

async fn send(socket: &mut Socket, text: String) -> Result<(), Ended> {
    send_message(socket, tungstenite::Message::text(text)).await
}

/// Sends within `ANSWER_TIMEOUT`: a remote that stops reading is dialled again.
async fn send_message(socket: &mut Socket, message: tungstenite::Message) -> Result<(), Ended> {
    let sent = glommio::timer::timeout(ANSWER_TIMEOUT, async { Ok(socket.send(message).await) }).await;
    match sent {
        Ok(sent) => sent.map_err(wire_error),
        Err(_) => Err(Ended::Failed(anyhow::anyhow!("the remote read nothing for 60 s"))),
    }
}

fn wire_error(error: tungstenite::Error) -> Ended {
    Ended::Failed(anyhow::Error::new(error).context("the connection to the remote failed"))
}

/// A remote's refusal that ends the session (a CLOSED or NEG-ERR it sent).
fn refused_by_remote(what: &str, message: &str) -> Ended {
    Ended::Failed(anyhow::anyhow!("the remote refused {what}: {message}"))
}
