//! `import --write-policy` and `sync --write-policy`: the events put to a write-policy plugin
//! first (strfry's protocol, `sourceType` "Import" or "Sync"), a batch at a time: every request of the batch written
//! while the answers are read, matched by id. Both are batch jobs that can be run again, so a
//! plugin that exits, answers garbage or does not answer within the timeout stops them with
//! an error (nothing of that batch is stored) instead of being restarted.

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use parrhesia_engine::write_policy::{self, Source, SourceType, Verdict};
use parrhesia_engine::{Event, Id};

pub struct Plugin {
    command: String,
    child: Child,
    stdin: Option<ChildStdin>,
    answers: Receiver<String>,
    timeout: Duration,
}

impl Plugin {
    /// Starts `command`: an executable's path, else a shell command.
    pub fn start(command: &str, timeout: Duration) -> Result<Plugin> {
        let mut child = parrhesia_net::plugin_process::plugin_command(command)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting the write policy plugin {command:?}"))?;
        let stdout = child.stdout.take().expect("piped");
        let (lines, answers) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(Plugin { command: command.to_string(), stdin: child.stdin.take(), child, answers, timeout })
    }

    /// The events the plugin accepts, in order; each refusal's message and each
    /// shadow-rejection handed to `refused` (`None` for a shadow-rejection).
    pub fn accepted(
        &mut self,
        events: Vec<Event>,
        source: (SourceType, &str),
        mut refused: impl FnMut(Option<String>),
    ) -> Result<Vec<Event>> {
        let verdicts = self.judge(&events, source, crate::unix_now())?;
        let mut accepted = Vec::with_capacity(events.len());
        for (event, verdict) in events.into_iter().zip(verdicts) {
            match verdict {
                Verdict::Accept => accepted.push(event),
                Verdict::Reject(message) => refused(Some(message)),
                Verdict::ShadowReject => refused(None),
            }
        }
        Ok(accepted)
    }

    /// The plugin's verdict on each event, in order.
    fn judge(&mut self, events: &[Event], (kind, info): (SourceType, &str), received_at: u64) -> Result<Vec<Verdict>> {
        let source = Source { kind, info, authed: None };
        let requests: String =
            events.iter().map(|event| write_policy::request_line(event, &source, received_at)).collect();
        let mut stdin = self.stdin.take().context("the write policy plugin's input is closed")?;
        let mut order: HashMap<Id, VecDeque<usize>> = HashMap::new();
        for (index, event) in events.iter().enumerate() {
            order.entry(*event.id()).or_default().push_back(index);
        }
        let mut verdicts: Vec<Option<Verdict>> = vec![None; events.len()];
        // Written on a thread while the answers are read here: a plugin that answers as it
        // reads never blocks on a full pipe.
        let (stdin, read) = std::thread::scope(|scope| {
            let writer =
                scope.spawn(move || stdin.write_all(requests.as_bytes()).and_then(|()| stdin.flush()).map(|()| stdin));
            let read = self.read_answers(&mut order, &mut verdicts, events.len());
            if read.is_err() {
                // A plugin that stopped answering may also have stopped reading: the writer
                // blocks on a full pipe until it is gone.
                let _ = self.child.kill();
            }
            (writer.join().expect("the writing thread does not panic"), read)
        });
        read?;
        self.stdin = Some(stdin.with_context(|| format!("writing to the write policy plugin {:?}", self.command))?);
        Ok(verdicts.into_iter().map(|verdict| verdict.expect("every event answered")).collect())
    }

    fn read_answers(
        &self,
        order: &mut HashMap<Id, VecDeque<usize>>,
        verdicts: &mut [Option<Verdict>],
        count: usize,
    ) -> Result<()> {
        for _ in 0..count {
            let line = match self.answers.recv_timeout(self.timeout) {
                Ok(line) => line,
                Err(RecvTimeoutError::Timeout) => {
                    bail!("the write policy plugin {:?} did not answer within {:?}", self.command, self.timeout)
                }
                Err(RecvTimeoutError::Disconnected) => bail!("the write policy plugin {:?} exited", self.command),
            };
            let answered = write_policy::parse_answer(&line)
                .and_then(|(id, verdict)| Some((order.get_mut(&id)?.pop_front()?, verdict)));
            let Some((index, verdict)) = answered else {
                bail!(
                    "the write policy plugin {:?} answered {line:?}, not a verdict on an event it was asked about",
                    self.command
                )
            };
            verdicts[index] = Some(verdict);
        }
        Ok(())
    }
}

impl Drop for Plugin {
    fn drop(&mut self) {
        // Its input closed, a plugin exits; one that does not is killed.
        drop(self.stdin.take());
        std::thread::sleep(Duration::from_millis(50));
        if !matches!(self.child.try_wait(), Ok(Some(_))) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}
