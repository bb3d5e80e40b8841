import { describe, expect, it } from "vitest";
import { isoOrNull, logLineTime } from "../../../src/judge/report/log-time.js";

describe("the time a log line says", () => {
  it("reads ISO 8601 stamps, with or without a zone (UTC assumed)", () => {
    expect(logLineTime("2026-03-01T11:50:00.5+01:00 sh -c curl", null)).toBe(
      "2026-03-01T10:50:00.500Z",
    );
    expect(logLineTime("at 2026-03-01 11:50:00 something", null)).toBe("2026-03-01T11:50:00.000Z");
  });
  it("reads a web server's [02/Dec/2026:09:00:00 +0800] with its offset", () => {
    expect(
      logLineTime(
        '1.2.3.4 - - [12/Nov/2021:13:20:58 +0800] "POST /uploads/user HTTP/1.0" 422',
        null,
      ),
    ).toBe("2021-11-12T05:20:58.000Z");
  });
  it("reads syslog's month and day with the year of the bundle", () => {
    expect(logLineTime("Dec  2 09:00:05 web01 sshd[1]: Accepted", "2026-12-02T10:00:00Z")).toBe(
      "2026-12-02T09:00:05.000Z",
    );
    expect(logLineTime("Dec  2 09:00:05 web01 sshd[1]: Accepted", null)).toBeNull();
  });
  it("gives null for no time, nonsense, and Docker's 'never'", () => {
    expect(logLineTime("no time here", null)).toBeNull();
    expect(isoOrNull("0001-01-01T00:00:00Z")).toBeNull();
    expect(isoOrNull("yesterday")).toBeNull();
    expect(isoOrNull("2026-03-01T12:00:00Z")).toBe("2026-03-01T12:00:00.000Z");
  });
});
