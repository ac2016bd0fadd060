/**
 * The company dashboard end to end, in real Chromium: two companies sign up
 * in two browser contexts; what one adds shows up live in its second tab,
 * and never in the other company's.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { build } from "vite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..", "..");
const ARTIFACTS = join(ROOT, "test-results", "e2e");
const dir = mkdtempSync(join(tmpdir(), "tenantbase-e2e-"));
let server: ChildProcess;
let url: string;
let browser: Browser;

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  await build({ configFile: join(ROOT, "examples", "company", "web", "vite.config.ts") });
  server = spawn(
    process.execPath,
    [join(ROOT, "bin", "tenantbase.js"), "serve", "--app", "examples/company/definition.ts"],
    {
      cwd: ROOT,
      env: { ...process.env, TENANTBASE_DATA: join(dir, "data"), TENANTBASE_PORT: "0" },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let output = "";
  server.stderr!.on("data", (chunk) => (output += chunk));
  url = await new Promise<string>((resolve, reject) => {
    server.stdout!.on("data", (chunk) => {
      output += chunk;
      const match = /listening on (http:\/\/\S+)/.exec(output);
      // The server says where the web app is.
      if (match && output.includes(`Web app: open ${match[1]}/`)) resolve(match[1]!);
    });
    server.once("exit", (code) => reject(new Error(`serve exited with ${code}: ${output}`)));
  });
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  server?.kill("SIGTERM");
  rmSync(dir, { recursive: true, force: true });
});

async function signUp(page: Page, company: string, email: string): Promise<void> {
  await page.goto(url);
  const form = page.getByRole("form", { name: "Sign up" });
  await form.getByLabel("Company").fill(company);
  await form.getByLabel("Email").fill(email);
  await form.getByLabel("Password").fill("correct horse battery");
  await form.getByRole("button", { name: "Create company" }).click();
  await waitLive(page, company);
}

async function waitLive(page: Page, company: string): Promise<void> {
  await expect.poll(() => page.locator("h1").textContent(), { timeout: 20_000 }).toBe(company);
  await page.getByTestId("live").getByText("● live").waitFor({ timeout: 20_000 });
}

async function addEmployee(page: Page, name: string, role: string): Promise<void> {
  const form = page.getByRole("form", { name: "Add employee" });
  await form.getByPlaceholder("Name").fill(name);
  await form.getByPlaceholder("Role").fill(role);
  await form.getByRole("button", { name: "Add employee" }).click();
}

const names = (page: Page) => page.getByTestId("employees").locator("li").allTextContents();

describe("company dashboard in Chromium", () => {
  it("shows an employee live in the company's other tab, and never to another company", async () => {
    const alpha = await browser.newContext();
    const beta = await browser.newContext();
    const alphaTab = await alpha.newPage();
    const betaTab = await beta.newPage();
    await signUp(alphaTab, "Alpha Co", "owner@alpha.example");
    await signUp(betaTab, "Beta Co", "owner@beta.example");
    // A second tab of Alpha Co: same browser context, so the same signed-in session.
    const alphaSecond = await alpha.newPage();
    await alphaSecond.goto(url);
    await waitLive(alphaSecond, "Alpha Co");

    const added = Date.now();
    await addEmployee(alphaTab, "Ada Lovelace", "Engineer");
    await expect
      .poll(() => names(alphaSecond), { timeout: 10_000, interval: 20 })
      .toEqual(["Ada Lovelace Engineer"]);
    const latencyMs = Date.now() - added;
    console.log(`live update reached the second tab in ${latencyMs} ms`);
    await expect.poll(() => alphaSecond.getByTestId("employee-count").textContent()).toBe("1");

    // Beta Co adds its own; each company sees only its own people.
    await addEmployee(betaTab, "Bob Babbage", "Designer");
    await expect.poll(() => names(betaTab)).toEqual(["Bob Babbage Designer"]);
    await alphaSecond.reload();
    await waitLive(alphaSecond, "Alpha Co");
    expect(await names(alphaSecond)).toEqual(["Ada Lovelace Engineer"]);
    expect(await names(alphaTab)).toEqual(["Ada Lovelace Engineer"]);
    expect(await betaTab.getByTestId("employee-count").textContent()).toBe("1");

    // Signing up an existing company is refused in the page, with the server's reason.
    const intruder = await (await browser.newContext()).newPage();
    await intruder.goto(url);
    const form = intruder.getByRole("form", { name: "Sign up" });
    await form.getByLabel("Company").fill("Alpha Co");
    await form.getByLabel("Email").fill("mallory@evil.example");
    await form.getByLabel("Password").fill("correct horse battery");
    await form.getByRole("button", { name: "Create company" }).click();
    await expect.poll(() => intruder.getByRole("alert").textContent()).toMatch(/exists already/);

    await alphaTab.screenshot({ path: join(ARTIFACTS, "alpha-first-tab.png"), fullPage: true });
    await alphaSecond.screenshot({ path: join(ARTIFACTS, "alpha-second-tab.png"), fullPage: true });
    await betaTab.screenshot({ path: join(ARTIFACTS, "beta.png"), fullPage: true });
    await intruder.screenshot({ path: join(ARTIFACTS, "signup-refused.png"), fullPage: true });
  }, 120_000);
});
