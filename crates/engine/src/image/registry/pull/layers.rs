//! Layer jobs of a pull: planning (what is missing), downloads in parallel (bounded), each
//! streamed through its digest check into the unpacker, and the errors named by blob.

#[allow(unused_imports)]
use super::*;

/// Reads what a download task sends; hashes the compressed bytes and copies them into the
/// blob being written.
pub(super) struct ChannelReader {
    pub(super) rx: tokio::sync::mpsc::Receiver<Result<Bytes, String>>,
    pub(super) cur: Bytes,
    pub(super) hasher: Sha256,
    pub(super) blob: BlobWriter,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.cur.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(b)) => {
                    self.hasher.update(&b);
                    self.blob.write_all(&b)?;
                    self.cur = b;
                }
                Some(Err(e)) => return Err(io::Error::other(e)),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.cur.len());
        buf[..n].copy_from_slice(&self.cur[..n]);
        let _ = self.cur.split_to(n);
        Ok(n)
    }
}

/// One layer to download.
pub(super) struct Job<'a> {
    pub(super) desc: &'a Descriptor,
    pub(super) diff_id: &'a Digest,
}

/// The layers to download (each once; a stored one is announced as skipped), and the
/// uncompressed size of those already stored.
pub(super) fn plan_jobs<'m>(
    store: &Store<'_>,
    m: &'m ImageManifest,
    diff_ids: &'m [Digest],
    sink: &dyn ProgressSink,
) -> (Vec<Job<'m>>, u64) {
    let mut jobs: Vec<Job<'m>> = Vec::new();
    let mut size = 0u64;
    for (desc, diff_id) in m.layers.iter().zip(diff_ids) {
        sink.event(Event::BlobStart {
            digest: desc.digest.clone(),
            size: Some(desc.size),
        });
        if store.layers.exists(diff_id.as_str()) {
            size += store.layers.tar_size(diff_id.as_str()).unwrap_or(0);
            sink.event(Event::BlobSkipped {
                digest: desc.digest.clone(),
            });
        } else if !jobs.iter().any(|j| j.diff_id == diff_id) {
            jobs.push(Job { desc, diff_id });
        }
    }
    (jobs, size)
}

/// Downloads (tasks on the runtime) and unpacks (a thread per layer) every job; the result
/// of each.
pub(super) fn run_jobs(
    rt: &tokio::runtime::Runtime,
    remote: &Remote,
    ep: &Endpoint,
    store: &Store<'_>,
    jobs: &[Job<'_>],
    sink: &dyn ProgressSink,
) -> Vec<Result<Unpacked, RegistryError>> {
    let failed = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let mut senders = Vec::new();
        let mut handles = Vec::new();
        for job in jobs {
            let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, String>>(64);
            senders.push(tx);
            let blob = store.blobs.begin();
            let failed = &failed;
            handles.push(scope.spawn(move || {
                let r = blob
                    .map_err(RegistryError::from)
                    .and_then(|b| unpack_layer(store, job, b, rx, sink));
                if r.is_err() {
                    failed.store(true, Ordering::Relaxed);
                }
                r
            }));
        }
        let downloads = futures_util::stream::iter(jobs.iter().zip(senders))
            .for_each_concurrent(PARALLEL, |(job, tx)| {
                download(remote, ep, job, tx, &failed, sink)
            });
        rt.block_on(downloads);
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(RegistryError::Invalid(
                        "a layer unpacking thread panicked".into(),
                    ))
                })
            })
            .collect()
    })
}

/// Downloads and unpacks the layers that are not stored yet; returns the uncompressed size
/// of all of them.
pub(super) fn fetch_layers(
    rt: &tokio::runtime::Runtime,
    remote: &Remote,
    ep: &Endpoint,
    m: &ImageManifest,
    diff_ids: &[Digest],
    undo: &mut Undo<'_>,
    sink: &dyn ProgressSink,
) -> Result<u64, RegistryError> {
    undo.lock_layers(diff_ids)?;
    let store = undo.store;
    let (jobs, mut size) = plan_jobs(store, m, diff_ids, sink);
    if jobs.is_empty() {
        return Ok(size);
    }
    let results = run_jobs(rt, remote, ep, store, &jobs, sink);
    let mut first_err = None;
    for r in results {
        match r {
            Ok((summary_size, created, blob_new)) => {
                size += summary_size;
                if let Some(l) = created {
                    undo.layers.push(l);
                }
                if let Some(b) = blob_new {
                    undo.blobs.push(b);
                }
            }
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(size),
    }
}

async fn download(
    remote: &Remote,
    ep: &Endpoint,
    job: &Job<'_>,
    tx: tokio::sync::mpsc::Sender<Result<Bytes, String>>,
    failed: &AtomicBool,
    sink: &dyn ProgressSink,
) {
    let oref = client::reference(&remote.host, ep.path(), &job.desc.digest);
    let desc = oci_desc(job.desc);
    let mut stream = match remote.client.pull_blob_stream(&oref, &desc).await {
        Ok(s) => s.stream,
        Err(e) => {
            let _ = tx
                .send(Err(format!(
                    "reading blob {}: {}",
                    job.desc.digest,
                    client::describe(&e, None)
                )))
                .await;
            return;
        }
    };
    let mut done = 0u64;
    while let Some(chunk) = stream.next().await {
        if failed.load(Ordering::Relaxed) {
            return;
        }
        match chunk {
            Ok(b) => {
                done += b.len() as u64;
                if tx.send(Ok(b)).await.is_err() {
                    return;
                }
                sink.event(Event::BlobProgress {
                    digest: job.desc.digest.clone(),
                    done,
                });
            }
            Err(e) => {
                let _ = tx
                    .send(Err(format!(
                        "reading blob {}: {}",
                        job.desc.digest,
                        client::stream_detail(&e)
                    )))
                    .await;
                return;
            }
        }
    }
}

/// What one unpacking thread made: the layer's uncompressed size, the layer if this pull
/// created it, the blob if this pull stored it.
pub(super) type Unpacked = (u64, Option<Digest>, Option<Digest>);

pub(super) fn unpack_layer(
    store: &Store<'_>,
    job: &Job<'_>,
    blob: BlobWriter,
    rx: tokio::sync::mpsc::Receiver<Result<Bytes, String>>,
    sink: &dyn ProgressSink,
) -> Result<Unpacked, RegistryError> {
    let mut reader = ChannelReader {
        rx,
        cur: Bytes::new(),
        hasher: Sha256::new(),
        blob,
    };
    let want = &job.desc.digest;
    let put = store.layers.put_checked(&mut reader, |summary, r| {
        io::copy(r, &mut io::sink()).map_err(LayerError::Read)?;
        let got = format!("sha256:{}", hex::encode(r.hasher.clone().finalize()));
        if &got != want {
            return Err(LayerError::Verify(format!(
                "reading blob {want}: digest did not match, expected {want}, got {got}"
            )));
        }
        if summary.diff_id != job.diff_id.as_str() {
            return Err(LayerError::Verify(format!(
                "layer {want}: its content has diff id {}, the image config says {}",
                summary.diff_id, job.diff_id
            )));
        }
        Ok(())
    });
    let (summary, created) = match put {
        Ok(x) => x,
        Err(e) => {
            return Err(RegistryError::Invalid(layer_error(want, e)));
        }
    };
    let created = created.then(|| job.diff_id.clone());
    let blob_digest = Digest::parse(want)?;
    let existed = store.blobs.exists(&blob_digest);
    let committed = reader.blob.commit_unsynced();
    match committed {
        Ok(_) => {
            sink.event(Event::BlobDone {
                digest: want.clone(),
            });
            Ok((summary.tar_size, created, (!existed).then_some(blob_digest)))
        }
        Err(e) => {
            if let Some(l) = &created {
                let _ = store.layers.remove(l.as_str());
            }
            Err(e.into())
        }
    }
}

/// A failed unpack in words: a transport error as Podman says it, a broken or hostile
/// layer naming the blob.
pub(super) fn layer_error(blob: &str, e: LayerError) -> String {
    match e {
        LayerError::Verify(m) => m,
        LayerError::Read(io) | LayerError::BrokenTar { source: io, .. }
            if io
                .get_ref()
                .is_some_and(|i| i.to_string().starts_with("reading blob")) =>
        {
            io.get_ref().map(|i| i.to_string()).unwrap_or_default()
        }
        other => format!("applying layer {blob}: {other}"),
    }
}
