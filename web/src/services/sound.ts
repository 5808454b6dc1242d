/** A short two-note chime made with Web Audio (no asset to load), and the
 * on/off preference kept in localStorage. */
const KEY = "parley.sound";

export function soundEnabled(): boolean {
  try {
    return localStorage.getItem(KEY) !== "off";
  } catch {
    return true;
  }
}

export function setSoundEnabled(on: boolean): void {
  try {
    localStorage.setItem(KEY, on ? "on" : "off");
  } catch {
    // storage full or off: the switch holds for this page only
  }
}

let context: AudioContext | null = null;
/** How many chimes played (the e2e test reads it from window). */
export let chimes = 0;

export function playChime(): void {
  chimes += 1;
  (window as unknown as { __parleyChimes?: number }).__parleyChimes = chimes;
  try {
    context ??= new AudioContext();
    const start = context.currentTime;
    for (const [i, frequency] of [880, 1320].entries()) {
      const oscillator = context.createOscillator();
      const gain = context.createGain();
      oscillator.frequency.value = frequency;
      gain.gain.setValueAtTime(0.0001, start + i * 0.12);
      gain.gain.exponentialRampToValueAtTime(0.15, start + i * 0.12 + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, start + i * 0.12 + 0.25);
      oscillator.connect(gain).connect(context.destination);
      oscillator.start(start + i * 0.12);
      oscillator.stop(start + i * 0.12 + 0.3);
    }
  } catch {
    // no audio device: the chime is a nicety
  }
}
