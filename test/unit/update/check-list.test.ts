import { describe, expect, it } from "vitest";
import { composeInfo, listedImage } from "../../../src/observe/registry/check.js";

const ID = `sha256:${"ab".repeat(32)}`;

describe("update --check from the container list", () => {
  it("takes the reference from the list row when it names one", () => {
    expect(listedImage({ Id: "c1", Image: "nginx:1.25", ImageID: ID })).toBe("nginx:1.25");
    expect(listedImage({ Id: "c1", Image: "127.0.0.1:5000/a/b:1", ImageID: ID })).toBe(
      "127.0.0.1:5000/a/b:1",
    );
  });

  it("asks for an inspect when the list shows the image id (the tag moved here) or nothing", () => {
    expect(listedImage({ Id: "c1", Image: ID, ImageID: ID })).toBeNull();
    expect(listedImage({ Id: "c1", Image: `sha256:${"cd".repeat(32)}`, ImageID: ID })).toBeNull();
    expect(listedImage({ Id: "c1", Image: "", ImageID: ID })).toBeNull();
    expect(listedImage({ Id: "c1", ImageID: ID })).toBeNull();
  });

  it("reads a Compose project from the labels, or none without project and service", () => {
    expect(
      composeInfo({
        "com.docker.compose.project": "shop",
        "com.docker.compose.service": "web",
        "com.docker.compose.project.working_dir": "/srv/shop",
        "com.docker.compose.project.config_files": "a.yml,/etc/b.yml",
      }),
    ).toEqual({
      project: "shop",
      service: "web",
      workingDir: "/srv/shop",
      configFiles: ["a.yml", "/etc/b.yml"],
    });
    expect(composeInfo({ "com.docker.compose.project": "shop" })).toBeNull();
  });
});
