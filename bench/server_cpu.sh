# Sourced by bench/run.sh and bench/compare.sh.
# server_cpu_ns SERVER_ROOT: CPU time (ns) consumed so far by every thread of
# the apache2 parent (SERVER_ROOT/httpd.pid) and its children (schedstat:
# time on a CPU). Differences over a run give the server's own CPU per
# request, whatever else competes for the machine.
server_cpu_ns() {
  local parent pid
  parent=$(cat "$1/httpd.pid")
  for pid in $parent $(ps --ppid "$parent" -o pid= 2>/dev/null); do
    cat /proc/$pid/task/*/schedstat 2>/dev/null
  done | awk '{t += $1} END {printf "%.0f\n", t}'
}
