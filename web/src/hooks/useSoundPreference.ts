import { useCallback, useState } from "react";
import { setSoundEnabled, soundEnabled } from "../services/sound";

/** The notification sound on/off switch, kept in localStorage. */
export function useSoundPreference(): [boolean, (on: boolean) => void] {
  const [on, setOn] = useState(soundEnabled);
  const set = useCallback((value: boolean) => {
    setSoundEnabled(value);
    setOn(value);
  }, []);
  return [on, set];
}
