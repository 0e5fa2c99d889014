<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="15">
<title>Device health: {{head.word}}</title>
<style>
  :root { --ok: #1b7f3b; --warning: #b36b00; --critical: #b3261e; --unknown: #757575; --pending: #5b3fb5; --starting: #5f6368; --muted: #5f6368; --line: #dadce0; }
  * { box-sizing: border-box; }
  html { overflow-x: hidden; }
  body { margin: 0; font: 15px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #202124; background: #f6f7f9; }
  header { display: flex; flex-wrap: wrap; align-items: center; justify-content: space-between; gap: .3rem .5rem; padding: .8rem 1rem; background: #fff; border-bottom: 1px solid var(--line); }
  h1 { font-size: 1.15rem; margin: 0; }
  h2 { font-size: 1rem; margin: 1.2rem 1rem .5rem; }
  main { max-width: 1100px; margin: 0 auto; padding-bottom: 2rem; }
  .badge { padding: .2rem .7rem; border-radius: 1rem; color: #fff; font-weight: 600; text-transform: uppercase; font-size: .8rem; }
  .ok { background: var(--ok); } .warning { background: var(--warning); } .critical { background: var(--critical); }
  .unknown { background: var(--unknown); } .pending { background: var(--pending); } .starting { background: var(--starting); }
  .note { flex-basis: 100%; color: var(--muted); font-size: .8rem; text-align: right; }
  .grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(150px, 100%), 1fr)); gap: .6rem; margin: 0 1rem; }
  .tile, .plot, .check { background: #fff; border: 1px solid var(--line); border-radius: .5rem; padding: .6rem .8rem; min-width: 0; overflow-wrap: anywhere; }
  .label { color: var(--muted); font-size: .8rem; }
  .value { font-size: 1.35rem; font-weight: 600; }
  .sub { color: var(--muted); font-size: .8rem; }
  details { font-size: .8rem; color: var(--muted); }
  summary { cursor: pointer; }
  code { font-size: .75rem; white-space: pre-wrap; overflow-wrap: anywhere; }
  .checks { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(260px, 100%), 1fr)); gap: .5rem; margin: 0 1rem; }
  .check { display: flex; gap: .6rem; align-items: flex-start; }
  .check > div { min-width: 0; }
  .dot { flex: none; width: .8rem; height: .8rem; border-radius: 50%; margin-top: .3rem; }
  .state { font-size: .75rem; font-weight: 600; text-transform: uppercase; }
  .state.ok { color: var(--ok); } .state.warning { color: var(--warning); } .state.critical { color: var(--critical); }
  .state.unknown { color: var(--unknown); } .state.pending { color: var(--pending); }
  .state { background: none; }
  .plots { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(300px, 100%), 1fr)); gap: .6rem; margin: 0 1rem; }
  svg { width: 100%; height: 80px; display: block; background: #fbfbfc; }
  polyline { fill: none; stroke: #1a73e8; stroke-width: 1.5; vector-effect: non-scaling-stroke; }
  circle { fill: #1a73e8; }
  .axis { display: flex; flex-wrap: wrap; justify-content: space-between; gap: 0 .5rem; color: var(--muted); font-size: .75rem; }
  footer { margin: 1.5rem 1rem; color: var(--muted); font-size: .8rem; }
</style>
</head>
<body>
<header>
  <h1>Device health</h1>
  <span class="badge {{head.shown}}" id="overall">{{head.word}}</span>
  % if head.note:
  <span class="note" id="overall-note">{{head.note}}</span>
  % end
</header>
<main>
% if status is None:
  <p style="margin:1rem">The first sample has not been taken yet; this page refreshes itself.</p>
% else:
  <h2>Now</h2>
  <section class="grid" id="tiles">
    <div class="tile"><div class="label">CPU</div><div class="value">{{fmt(status["cpu_usage"])}} %</div>
      <div class="sub">load {{" / ".join(fmt(v) for v in status["load"])}}</div></div>
    % used, of = size_pair(status["memory_usage"], status["memory_total"])
    <div class="tile"><div class="label">Memory in use</div><div class="value">{{used}}</div><div class="sub">{{of}}</div></div>
    % used, of = size_pair(status["storage_usage"], status["storage_total"])
    <div class="tile" id="storage"><div class="label">Storage {{status["storage_mountpoint"] or ""}}</div><div class="value">{{used}}</div><div class="sub">{{of}}</div></div>
    % throttled = status["throttling"].get("throttled")
    <div class="tile"><div class="label">CPU temperature</div><div class="value">{{fmt(status["cpu_temp"])}} °C</div>
      <div class="sub">{{"throttling not measured" if throttled is None else "throttled now" if throttled.get("now") else "not throttled"}}</div></div>
    % power = checks.get("undervoltage")
    <div class="tile" id="power"><div class="label">Power</div>
      <div class="value">{{"Under-voltage" if status["is_undervolted"] else "–" if power is None or power.level == "unknown" else "OK"}}</div>
      <div class="sub">{{power.text if power else "not checked"}}</div></div>
    % synced = status["clock_synchronized"]
    <div class="tile" id="clock"><div class="label">Clock</div>
      <div class="value">{{"synced" if synced else "–" if synced is None else "not synced"}}</div>
      <div class="sub">{{"synchronised (NTP)" if synced else "not measured on this device" if synced is None else "not synchronised yet"}}</div></div>
    % wifi = status["wifi"]
    <div class="tile"><div class="label">WiFi</div>
    % if wifi:
      <div class="value">{{fmt(wifi["signal_dbm"])}} dBm</div><div class="sub">{{wifi["ssid"] or "?"}} on {{wifi["interface"]}}</div></div>
    % else:
      <div class="value">–</div><div class="sub">no WiFi link</div></div>
    % end
    % for sidecar in sidecars:
    <div class="tile" data-sidecar="{{sidecar.name}}"><div class="label">{{sidecar.name}}</div>
      <div class="value">{{"up" if sidecar.up else "down"}}</div>
      % if not sidecar.up:
      <div class="sub">{{sidecar.words}}</div>
      % end
      % if sidecar.error:
      <details><summary>Details</summary><code>{{sidecar.error}}</code></details>
      % end
      % if sidecar.extra:
      <div class="sub">{{sidecar.extra}}</div>
      % end
    </div>
    % end
    <div class="tile"><div class="label">Uptime</div><div class="value">{{duration(status["uptime_seconds"])}}</div>
      <div class="sub">sampled {{clock(status["time"])}}</div></div>
  </section>

  <h2>Checks</h2>
  <section class="checks" id="checks">
    % for check in checks.values():
    <div class="check" data-check="{{check.name}}" data-status="{{check.level}}" data-shown="{{check.shown}}"><span class="dot {{check.shown}}"></span>
      <div><strong>{{check.title}}</strong> <span class="state {{check.shown}}">{{check.word}}</span><br>{{check.text}}<div class="sub">{{check.detail}}</div></div></div>
    % end
  </section>
% end

  <h2>Last {{span_minutes}} minutes</h2>
  <section class="plots" id="plots">
    % for plot in plots:
    <div class="plot" data-series="{{plot.key}}">
      <div class="label">{{plot.title}}{{!": <strong>" + escape(quantity(plot.latest, plot.unit)) + "</strong>" if plot.latest is not None else ""}}</div>
      % if plot.points:
      <svg viewBox="0 0 300 80" preserveAspectRatio="none" role="img" aria-label="{{plot.title}} over the last {{span_minutes}} minutes">
        <polyline points="{{plot.points}}"/>
        <circle cx="{{plot.last[0]}}" cy="{{plot.last[1]}}" r="3"/>
      </svg>
      <div class="axis"><span>-{{span_minutes}} min</span><span>{{quantity(plot.low, plot.unit)}} – {{quantity(plot.high, plot.unit)}}</span><span>now</span></div>
      % else:
      <div class="sub">not measured on this device</div>
      % end
    </div>
    % end
  </section>
  <footer>health-reporter · <a href="/status">/status</a> · <a href="/metrics">/metrics</a> · refreshes every 15 s</footer>
</main>
</body>
</html>
