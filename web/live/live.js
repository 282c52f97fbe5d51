// Lookout live video: lists the live sessions the registry token may see and plays each one over WHEP.
// Plain script, no framework or build step; served by the streams service at /live/ (same origin as the API).
'use strict';

(() => {
  // How often the session list is polled: 1 s, or `#poll=<ms>` in the fragment (100 ms to 60 s; benchmarks).
  const POLL_MS = (() => {
    const asked = Number(new URLSearchParams(location.hash.slice(1)).get('poll'));
    return Number.isFinite(asked) && asked >= 100 ? Math.min(asked, 60000) : 1000;
  })();
  const ICE_GATHER_MS = 2000;
  const TOKEN_KEY = 'lookout.live.token';
  const ALERT_KEY = 'lookout.live.alert';

  const tiles = new Map(); // session_id -> tile record
  let pollTimer = null;
  let pollGeneration = 0;

  class HttpError extends Error {}

  const $ = (selector) => document.querySelector(selector);

  function setStatus(text, isError = false) {
    const status = $('#status');
    status.textContent = text;
    status.classList.toggle('error', isError);
  }

  async function errorText(res) {
    const text = await res.text().catch(() => '');
    try {
      const body = JSON.parse(text);
      if (body && body.error) return `${body.error.code || ''} ${body.error.message || ''}`.trim();
      if (body && body.detail !== undefined) {
        return typeof body.detail === 'string' ? body.detail : JSON.stringify(body.detail);
      }
    } catch {
      // Not JSON (a proxy's HTML page, say): show its first words.
    }
    return text.trim().slice(0, 200) || res.statusText;
  }

  async function expect(res, what, statuses = [200]) {
    if (!statuses.includes(res.status)) {
      throw new HttpError(`${what}: HTTP ${res.status} ${await errorText(res)}`.trim());
    }
    return res;
  }

  function describe(err, what) {
    return err instanceof HttpError ? err.message : `${what}: ${err && err.message ? err.message : err}`;
  }

  // Credentials come from the fragment (never sent to any server) or the form, and live in sessionStorage only.
  function readFragment() {
    const params = new URLSearchParams(location.hash.slice(1));
    if (!params.has('token') && !params.has('alert')) return;
    if (params.get('token')) sessionStorage.setItem(TOKEN_KEY, params.get('token'));
    sessionStorage.setItem(ALERT_KEY, params.get('alert') || '');
    // Drop the token from the address bar and history; keep the alert filter and poll interval bookmarkable.
    const kept = new URLSearchParams();
    for (const key of ['alert', 'poll']) if (params.get(key)) kept.set(key, params.get(key));
    const hash = kept.toString() ? `#${kept}` : '';
    history.replaceState(null, '', location.pathname + location.search + hash);
  }

  function credentials() {
    return { token: sessionStorage.getItem(TOKEN_KEY) || '', alert: sessionStorage.getItem(ALERT_KEY) || '' };
  }

  function createTile(session) {
    const el = document.createElement('section');
    el.className = 'tile';
    el.dataset.sessionId = session.session_id;
    el.dataset.cameraId = session.camera_id || '';
    el.dataset.alertId = session.alert_id || '';
    el.dataset.state = 'connecting';
    const title = el.appendChild(document.createElement('h2'));
    title.textContent = session.camera_label || session.camera_id || session.session_id;
    const meta = el.appendChild(document.createElement('p'));
    meta.className = 'meta';
    const basis = session.alert_id ? `alert ${session.alert_id}`
      : session.grant_id ? `owner's consent (grant ${session.grant_id})` : 'no alert';
    meta.textContent = `camera ${session.camera_id || '?'} · ${basis}`;
    const video = el.appendChild(document.createElement('video'));
    for (const attr of ['muted', 'autoplay', 'playsinline']) video.setAttribute(attr, '');
    video.muted = true; // the property, not just the attribute, is what autoplay policy checks
    const note = el.appendChild(document.createElement('p'));
    note.className = 'note';
    note.textContent = 'Connecting…';
    const retry = el.appendChild(document.createElement('button'));
    retry.type = 'button';
    retry.textContent = 'Reconnect';
    retry.hidden = true;
    $('#tiles').appendChild(el);
    return { id: session.session_id, session, el, video, note, retry, pc: null, viewerToken: '', location: '',
             ended: false, released: false, error: '', last: {} };
  }

  function iceGathered(pc) {
    // Non-trickle WHEP: the offer must carry the candidates, but a slow interface must not hold it up for long.
    return new Promise((resolve) => {
      if (pc.iceGatheringState === 'complete') return resolve();
      const timer = setTimeout(resolve, ICE_GATHER_MS);
      pc.addEventListener('icegatheringstatechange', () => {
        if (pc.iceGatheringState === 'complete') {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  }

  function watch(tile, pc) {
    pc.addEventListener('track', (event) => {
      tile.video.srcObject = event.streams[0] || new MediaStream([event.track]);
      // The DTLS transport says "closed" when the server hangs up (close_notify), long before ICE notices.
      const dtls = event.receiver.transport;
      if (dtls) {
        dtls.addEventListener('statechange', () => {
          if (dtls.state === 'closed' || dtls.state === 'failed') end(tile, `Stream ${dtls.state} by the server.`);
        });
      }
    });
    pc.addEventListener('connectionstatechange', () => {
      if (pc.connectionState === 'failed' || pc.connectionState === 'closed') {
        end(tile, `Connection ${pc.connectionState}.`);
      }
    });
    tile.video.addEventListener('playing', () => {
      if (!tile.ended) {
        tile.el.dataset.state = 'playing';
        tile.note.textContent = 'Live.';
      }
    });
  }

  async function requestViewerToken(tile, token) {
    const res = await fetch(`/v1/sessions/${encodeURIComponent(tile.id)}/viewer-token`, {
      method: 'POST', headers: { Authorization: `Bearer ${token}` }, cache: 'no-store',
    });
    await expect(res, 'Viewer token');
    return res.json();
  }

  async function postOffer(tile, grant, sdp) {
    const res = await fetch(grant.whep_url, {
      method: 'POST', cache: 'no-store', body: sdp,
      headers: { 'Content-Type': 'application/sdp', Authorization: `Bearer ${grant.token}` },
    });
    await expect(res, 'WHEP offer', [201]);
    const resource = res.headers.get('Location');
    if (!resource) throw new Error('the WHEP answer has no Location header');
    tile.location = new URL(resource, res.url).href;
    if (tile.ended) release(tile); // the session ended while we waited: hand the seat back at once
    return res.text();
  }

  async function connect(tile, token) {
    const grant = await requestViewerToken(tile, token);
    if (tile.ended) return;
    tile.viewerToken = grant.token;
    const pc = new RTCPeerConnection({ iceServers: grant.ice_servers || [] });
    tile.pc = pc;
    watch(tile, pc);
    pc.addTransceiver('video', { direction: 'recvonly' });
    await pc.setLocalDescription(await pc.createOffer());
    await iceGathered(pc);
    if (tile.ended) return;
    const answer = await postOffer(tile, grant, pc.localDescription.sdp);
    if (tile.ended) return;
    await pc.setRemoteDescription({ type: 'answer', sdp: answer });
    if (tile.el.dataset.state === 'connecting') tile.note.textContent = 'Connected, waiting for video…';
  }

  function open(session, token) {
    const tile = createTile(session);
    tiles.set(tile.id, tile);
    tile.retry.addEventListener('click', () => {
      tile.el.remove();
      tiles.delete(tile.id);
      open(tile.session, credentials().token);
    });
    connect(tile, token).catch((err) => {
      if (tile.ended) return; // a late failure of a connection we already closed on purpose
      tile.error = describe(err, 'Connecting');
      end(tile, tile.error);
      setStatus(`${tile.session.camera_label || tile.id}: ${tile.error}`, true);
    });
  }

  function release(tile) {
    if (!tile.location || tile.released) return;
    tile.released = true;
    // keepalive lets the DELETE outlive the page on pagehide.
    fetch(tile.location, {
      method: 'DELETE', keepalive: true, headers: { Authorization: `Bearer ${tile.viewerToken}` },
    }).catch(() => {});
  }

  function end(tile, reason) {
    if (tile.ended) return;
    tile.ended = true;
    tile.el.dataset.state = 'ended';
    tile.note.textContent = reason;
    if (tile.pc) tile.pc.close();
    release(tile);
  }

  function reconcile(sessions, token) {
    const live = new Map(sessions.filter((s) => s.state === 'live').map((s) => [s.session_id, s]));
    for (const tile of tiles.values()) {
      if (!live.has(tile.id)) end(tile, 'Session ended.');
      tile.retry.hidden = !(tile.ended && live.has(tile.id));
    }
    for (const [id, session] of live) {
      if (tiles.has(id)) tiles.get(id).session = session;
      else open(session, token);
    }
  }

  function summary(sessions, alert) {
    const live = sessions.filter((s) => s.state === 'live').length;
    const scope = alert ? ` for alert ${alert}` : '';
    const failed = [...tiles.values()].filter((t) => t.error && !t.retry.hidden);
    const time = new Date().toLocaleTimeString();
    const text = `${live} live session${live === 1 ? '' : 's'}${scope} · updated ${time}`;
    return failed.length ? `${text} · ${failed[failed.length - 1].error}` : text;
  }

  async function poll() {
    const { token, alert } = credentials();
    if (!token) {
      setStatus('Enter an access token to watch live sessions.');
      return;
    }
    const query = new URLSearchParams({ state: 'live' });
    if (alert) query.set('alert_id', alert);
    try {
      const res = await fetch(`/v1/sessions?${query}`, {
        headers: { Authorization: `Bearer ${token}` }, cache: 'no-store',
      });
      await expect(res, 'Listing live sessions');
      const sessions = await res.json();
      reconcile(sessions, token);
      const failed = [...tiles.values()].some((t) => t.error && !t.retry.hidden);
      setStatus(summary(sessions, alert), failed);
    } catch (err) {
      setStatus(describe(err, 'Listing live sessions'), true);
    }
  }

  function startPolling() {
    const generation = ++pollGeneration; // a restart (new token) retires the previous loop
    clearTimeout(pollTimer);
    const run = async () => {
      if (generation !== pollGeneration) return;
      await poll();
      if (generation === pollGeneration) pollTimer = setTimeout(run, POLL_MS);
    };
    run();
  }

  function endAll(reason) {
    for (const tile of tiles.values()) end(tile, reason);
  }

  function remoteCandidate(report, transportId) {
    // Which server address the media really comes from: tells a loopback or LAN setup problem at a glance.
    const transport = transportId && report.get(transportId);
    const pair = transport && report.get(transport.selectedCandidatePairId);
    const remote = pair && report.get(pair.remoteCandidateId);
    return remote ? `${remote.address}:${remote.port} ${remote.candidateType}` : '';
  }

  async function stats(sessionId) {
    const tile = tiles.get(sessionId);
    if (!tile) return null;
    if (tile.pc && !tile.ended) {
      try {
        const report = await tile.pc.getStats();
        report.forEach((s) => {
          if (s.type !== 'inbound-rtp' || s.kind !== 'video') return;
          const codec = s.codecId && report.get(s.codecId);
          tile.last = { framesDecoded: s.framesDecoded || 0, frameWidth: s.frameWidth || 0,
                        frameHeight: s.frameHeight || 0, codec: codec ? codec.mimeType : '',
                        remoteCandidate: remoteCandidate(report, s.transportId) };
        });
      } catch {
        // Closed while we asked: report the last numbers we saw.
      }
    }
    return { framesDecoded: 0, frameWidth: 0, frameHeight: 0, codec: '', remoteCandidate: '', ...tile.last,
             videoWidth: tile.video.videoWidth, videoHeight: tile.video.videoHeight, state: tile.el.dataset.state,
             connectionState: tile.pc ? tile.pc.connectionState : 'new' };
  }

  function bindForm() {
    const { alert } = credentials();
    $('#alert-input').value = alert;
    $('#token-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const token = $('#token-input').value.trim();
      if (token) sessionStorage.setItem(TOKEN_KEY, token);
      sessionStorage.setItem(ALERT_KEY, $('#alert-input').value.trim());
      $('#token-input').value = '';
      startPolling();
    });
    $('#forget').addEventListener('click', () => {
      sessionStorage.removeItem(TOKEN_KEY);
      endAll('Stopped: token forgotten.');
      startPolling();
    });
  }

  window.lookoutLive = { stats };
  readFragment();
  bindForm();
  // Leaving the page hands every viewer seat back; a page restored from the back/forward cache starts over.
  window.addEventListener('pagehide', () => endAll('Page closed.'));
  window.addEventListener('pageshow', (event) => { if (event.persisted) location.reload(); });
  startPolling();
})();
