-- Prints one machine-readable line after a wrk run: p50/p95/p99 in ms, requests/s, errors.
done = function(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout
  io.write(string.format(
    "RESULT p50=%.1f p95=%.1f p99=%.1f rps=%.1f requests=%d errors=%d bytes=%d\n",
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    summary.requests / (summary.duration / 1e6), summary.requests, errors, summary.bytes))
end
