import { assertEquals } from "./_assert.ts";
import { type BackendProbe, chooseWebGpuBackend } from "../deno/webgpu_backend.ts";

function probe(os: string, env: Record<string, string>, manifests: string[]): BackendProbe {
  return { os, env: (name) => env[name], hasManifest: (dir) => manifests.includes(dir) };
}

Deno.test("a Vulkan driver on Linux gives Vulkan alone", () => {
  assertEquals(chooseWebGpuBackend(probe("linux", {}, ["/usr/share/vulkan/icd.d"])), "vulkan");
  assertEquals(chooseWebGpuBackend(probe("linux", {}, ["/etc/vulkan/icd.d"])), "vulkan");
  const named = probe("linux", { VK_ICD_FILENAMES: "/opt/icd.json" }, []);
  assertEquals(chooseWebGpuBackend(named), "vulkan");
});

Deno.test("without a Vulkan driver, or off Linux, wgpu chooses", () => {
  assertEquals(chooseWebGpuBackend(probe("linux", {}, [])), undefined);
  assertEquals(chooseWebGpuBackend(probe("darwin", {}, ["/usr/share/vulkan/icd.d"])), undefined);
  assertEquals(chooseWebGpuBackend(probe("windows", {}, [])), undefined);
});

Deno.test("DENO_WEBGPU_BACKEND set by the user is kept", () => {
  const gl = probe("linux", { DENO_WEBGPU_BACKEND: "gl" }, ["/usr/share/vulkan/icd.d"]);
  assertEquals(chooseWebGpuBackend(gl), "gl");
});

Deno.test("useWebGpuBackend sets the choice when DENO_WEBGPU_BACKEND is unset, and only then", async () => {
  const script =
    'import { chooseWebGpuBackend, useWebGpuBackend } from "./deno/webgpu_backend.ts";' +
    "const chosen = chooseWebGpuBackend() ?? null; useWebGpuBackend();" +
    'console.log(JSON.stringify({ chosen, set: Deno.env.get("DENO_WEBGPU_BACKEND") ?? null }));';
  const run = async (backend?: string) => {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(Deno.env.toObject())) {
      if (k !== "DENO_WEBGPU_BACKEND") env[k] = v;
    }
    if (backend) env.DENO_WEBGPU_BACKEND = backend;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["eval", "--ext=ts", script],
      env,
      clearEnv: true,
    }).output();
    assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
    return JSON.parse(new TextDecoder().decode(out.stdout));
  };
  const unset = await run();
  assertEquals(unset.set, unset.chosen);
  assertEquals(await run("gl"), { chosen: "gl", set: "gl" });
});
