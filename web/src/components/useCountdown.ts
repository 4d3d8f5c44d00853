import { useEffect, useState } from 'react';

/**
 * Seconds left until `until` (epoch ms), ticking every second; 0 once passed.
 * Undefined `until` gives undefined.
 */
export function useCountdown(until: number | undefined, now: () => number = Date.now): number | undefined {
  const left = () => (until === undefined ? undefined : Math.max(0, Math.ceil((until - now()) / 1000)));
  const [value, setValue] = useState(left);
  useEffect(() => {
    setValue(left());
    if (until === undefined) return;
    const t = setInterval(() => {
      const v = left();
      setValue(v);
      if (v === 0) clearInterval(t);
    }, 1000);
    return () => clearInterval(t);
    // `left` and `now` are read fresh on every tick; only a new deadline restarts the timer.
  }, [until]);
  return value;
}
