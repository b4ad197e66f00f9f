#!/bin/sh
# azlin: run by systemd before each start of the agent (ExecStartPre).
# After an upgrade over the agent's connection, the new binary is on trial
# until it reaches the controller, which removes azlin-agent.pending; when
# the deadline written there has passed (the new binary crashed at start,
# or never connected), the previous binary is put back here, since a
# binary that cannot run cannot do it itself.
bin=/usr/local/bin/azlin-agent
pending="$bin.pending"
[ -f "$pending" ] || exit 0
deadline="$(cat "$pending" 2>/dev/null || echo 0)"
now="$(date +%s)"
case "$deadline" in
  ''|*[!0-9]*) deadline=0 ;;
esac
if [ "$now" -ge "$deadline" ]; then
  if [ -x "$bin.previous" ]; then
    mv -f "$bin.previous" "$bin"
    echo "azlin: the upgraded agent did not reach the controller in time; the previous agent is back" >&2
  fi
  rm -f "$pending"
fi
exit 0
