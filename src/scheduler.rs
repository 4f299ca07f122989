//! One thread that runs named jobs on cron expressions (with a seconds field). Jobs only decide
//! and hand work over (to the engine's queue, or a short database statement); none calls a
//! platform on this thread. Every job can also be run on demand (`run_job`), which is how tests
//! and the dashboard's "run now" drive it without waiting.

use crate::clock::SharedClock;
use crate::error::{Error, Result};
use chrono::{DateTime, Utc};
use std::str::FromStr;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

pub type JobFn = Box<dyn Fn(DateTime<Utc>) -> Result<String> + Send + Sync>;

pub struct Job {
    pub name: &'static str,
    /// Why the job exists, shown to operators.
    pub purpose: &'static str,
    pub expression: String,
    schedule: Option<cron::Schedule>,
    run: JobFn,
}

impl Job {
    /// An empty expression turns the job off (it can still be run on demand).
    pub fn new(
        name: &'static str,
        purpose: &'static str,
        expression: &str,
        run: JobFn,
    ) -> std::result::Result<Job, String> {
        let schedule =
            if expression.trim().is_empty() {
                None
            } else {
                Some(cron::Schedule::from_str(expression.trim()).map_err(|e| {
                    format!("job {name}: invalid cron expression {expression:?}: {e}")
                })?)
            };
        Ok(Job {
            name,
            purpose,
            expression: expression.trim().to_string(),
            schedule,
            run,
        })
    }
}

#[derive(Debug, Clone, Default)]
pub struct JobStatus {
    pub last_run_at: Option<DateTime<Utc>>,
    pub last_result: Option<String>,
    pub last_ok: Option<bool>,
    pub next_run_at: Option<DateTime<Utc>>,
}

pub struct Scheduler {
    jobs: Vec<Job>,
    status: Mutex<Vec<JobStatus>>,
    clock: SharedClock,
    stop: Mutex<bool>,
    wake: Condvar,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Scheduler {
    pub fn new(jobs: Vec<Job>, clock: SharedClock) -> Arc<Scheduler> {
        let status = vec![JobStatus::default(); jobs.len()];
        Arc::new(Scheduler {
            jobs,
            status: Mutex::new(status),
            clock,
            stop: Mutex::new(false),
            wake: Condvar::new(),
            thread: Mutex::new(None),
        })
    }

    pub fn jobs(&self) -> Vec<(&'static str, &'static str, String, JobStatus)> {
        let status = self.status.lock().unwrap_or_else(|e| e.into_inner());
        self.jobs
            .iter()
            .zip(status.iter())
            .map(|(j, s)| (j.name, j.purpose, j.expression.clone(), s.clone()))
            .collect()
    }

    /// Runs one job now, whatever its schedule, and records the result.
    pub fn run_job(&self, name: &str) -> Result<String> {
        let index = self
            .jobs
            .iter()
            .position(|j| j.name == name)
            .ok_or_else(|| Error::not_found(format!("There is no job named {name:?}.")))?;
        self.run_index(index)
    }

    fn run_index(&self, index: usize) -> Result<String> {
        let job = &self.jobs[index];
        let now = self.clock.now();
        let result = (job.run)(now);
        let mut status = self.status.lock().unwrap_or_else(|e| e.into_inner());
        let entry = &mut status[index];
        entry.last_run_at = Some(now);
        entry.last_ok = Some(result.is_ok());
        entry.last_result = Some(match &result {
            Ok(text) => text.clone(),
            Err(e) => e.to_string(),
        });
        if let Err(e) = &result {
            httpkit::log_error!("job {} failed: {e}", job.name);
        }
        result
    }

    pub fn spawn(self: &Arc<Self>) {
        let scheduler = self.clone();
        let handle = std::thread::Builder::new()
            .name("job-scheduler".into())
            .spawn(move || scheduler.run_loop())
            .expect("spawning the scheduler thread");
        *self.thread.lock().unwrap_or_else(|e| e.into_inner()) = Some(handle);
    }

    fn run_loop(&self) {
        let mut next: Vec<Option<DateTime<Utc>>> = self
            .jobs
            .iter()
            .map(|j| {
                j.schedule
                    .as_ref()
                    .and_then(|s| s.after(&self.clock.now()).next())
            })
            .collect();
        loop {
            let now = self.clock.now();
            for (index, job) in self.jobs.iter().enumerate() {
                if next[index].is_some_and(|at| at <= now) {
                    let _ = self.run_index(index);
                    next[index] = job
                        .schedule
                        .as_ref()
                        .and_then(|s| s.after(&self.clock.now()).next());
                }
                self.status.lock().unwrap_or_else(|e| e.into_inner())[index].next_run_at =
                    next[index];
            }
            // Sleep until the earliest job is due, but at most a second, so a clock that is
            // moved (in tests) or adjusted (NTP) is noticed quickly.
            let wait = next
                .iter()
                .flatten()
                .min()
                .map(|at| (*at - self.clock.now()).to_std().unwrap_or_default())
                .unwrap_or(std::time::Duration::from_secs(1))
                .min(std::time::Duration::from_secs(1));
            let stop = self.stop.lock().unwrap_or_else(|e| e.into_inner());
            if *stop {
                return;
            }
            let (stop, _) = self
                .wake
                .wait_timeout(stop, wait)
                .unwrap_or_else(|e| e.into_inner());
            if *stop {
                return;
            }
        }
    }

    pub fn stop(&self) {
        *self.stop.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.wake.notify_all();
        if let Some(handle) = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = handle.join();
        }
    }
}
