import { describe, expect, it } from "vitest";
import { dayLabel, safeUrl } from "../src/lib/format";

describe("format", () => {
  it("labels days for the message list's separators", () => {
    const now = new Date(2026, 10, 24, 15, 0);
    expect(dayLabel(new Date(2026, 10, 24, 9, 0).toISOString(), now)).toBe("Today");
    expect(dayLabel(new Date(2026, 10, 23, 23, 0).toISOString(), now)).toBe("Yesterday");
    expect(dayLabel(new Date(2026, 10, 20, 9, 0).toISOString(), now)).toContain("2026");
  });

  it("lets only http(s) URLs through", () => {
    expect(safeUrl("https://cdn.example/a.png")).toBe("https://cdn.example/a.png");
    expect(safeUrl("javascript:alert(1)")).toBeNull();
    expect(safeUrl("data:text/html,<script>alert(1)</script>")).toBeNull();
    expect(safeUrl(null)).toBeNull();
  });
});
