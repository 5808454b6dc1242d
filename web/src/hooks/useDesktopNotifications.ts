/** Desktop notifications (the Notification API): permission is asked only
 * when the person asks for it (a button), never on load; once granted, a
 * notification shows only while the tab is hidden, and a click on it brings
 * the tab back at what it is about. */
import { useCallback, useState } from "react";

export type DesktopPermission = NotificationPermission | "unsupported";

function currentPermission(): DesktopPermission {
  return typeof Notification === "undefined" ? "unsupported" : Notification.permission;
}

export interface DesktopNotifications {
  permission: DesktopPermission;
  /** Ask for permission (call from a user's action). */
  enable: () => Promise<void>;
  /** Show one while the tab is hidden; false when it was not shown. */
  notify: (title: string, body: string, tag: string, onClick: () => void) => boolean;
}

export function useDesktopNotifications(): DesktopNotifications {
  const [permission, setPermission] = useState<DesktopPermission>(currentPermission);
  const enable = useCallback(async () => {
    if (typeof Notification === "undefined") return;
    setPermission(await Notification.requestPermission());
  }, []);
  const notify = useCallback((title: string, body: string, tag: string, onClick: () => void) => {
    if (currentPermission() !== "granted" || document.visibilityState !== "hidden") return false;
    const shown = new Notification(title, { body, tag });
    shown.onclick = () => {
      window.focus();
      onClick();
      shown.close();
    };
    return true;
  }, []);
  return { permission, enable, notify };
}
