import { describe, expect, it } from "vitest";
import { composeFailure, projectArgs } from "../../../src/act/update/compose.js";

const info = {
  project: "shop",
  service: "web",
  workingDir: "/srv/shop",
  configFiles: ["docker-compose.yml", "/etc/shop/override.yml"],
};

describe("compose: the project located from the container's labels", () => {
  it("gives -p, the project directory and each file, relative ones under the directory", () => {
    expect(projectArgs(info)).toEqual({
      args: [
        "-p",
        "shop",
        "--project-directory",
        "/srv/shop",
        "-f",
        "/srv/shop/docker-compose.yml",
        "-f",
        "/etc/shop/override.yml",
      ],
    });
  });

  it("refuses labels that would become options or name no place (they are read from the host)", () => {
    expect(projectArgs({ ...info, service: "--privileged" })).toHaveProperty("problem");
    expect(projectArgs({ ...info, service: "web\n" })).toHaveProperty("problem");
    expect(projectArgs({ ...info, project: "-f/tmp/x" })).toHaveProperty("problem");
    expect(projectArgs({ ...info, project: "Shop" })).toHaveProperty("problem");
    expect(projectArgs({ ...info, workingDir: "relative/dir" })).toHaveProperty("problem");
    expect(projectArgs({ ...info, workingDir: null })).toHaveProperty("problem");
    expect(projectArgs({ ...info, configFiles: [] })).toHaveProperty("problem");
  });

  it("says why a run failed, with the end of its output", () => {
    const text = composeFailure({
      argv: ["/usr/bin/docker-compose", "-p", "shop", "up"],
      exitCode: 1,
      timedOut: false,
      durationMs: 10,
      output: "a\nb\nERROR: no such image\n",
    });
    expect(text).toMatch(/exited 1/);
    expect(text).toMatch(/no such image/);
    expect(
      composeFailure({ argv: ["x"], exitCode: null, timedOut: true, durationMs: 1, output: "" }),
    ).toMatch(/timed out/);
  });
});
