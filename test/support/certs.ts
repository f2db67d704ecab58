import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Test PKI built with the openssl CLI (in every Debian image), written to a temp directory. */
function openssl(args: string[], cwd: string): void {
  execFileSync("openssl", args, { cwd, stdio: "pipe" });
}

export interface CertificateAuthority {
  readonly dir: string;
  readonly name: string;
  readonly certFile: string;
  readonly keyFile: string;
}

export interface KeyPair {
  readonly certFile: string;
  readonly keyFile: string;
}

export function makeCa(dir: string, name: string): CertificateAuthority {
  openssl(
    ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", `/CN=${name}`].concat([
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.crt`,
    ]),
    dir,
  );
  // `openssl ca` (unlike `x509 -req` on OpenSSL 3.0) can set an explicit validity window,
  // which is how an already-expired certificate is made.
  writeFileSync(join(dir, `${name}.index`), "");
  writeFileSync(join(dir, `${name}.serial`), "1000\n");
  writeFileSync(
    join(dir, `${name}.cnf`),
    [
      "[ca]",
      "default_ca = test_ca",
      "[test_ca]",
      `database = ${name}.index`,
      "new_certs_dir = .",
      `certificate = ${name}.crt`,
      `private_key = ${name}.key`,
      `serial = ${name}.serial`,
      "default_md = sha256",
      "policy = any_name",
      "unique_subject = no",
      "[any_name]",
      "commonName = supplied",
      "",
    ].join("\n"),
  );
  return { dir, name, certFile: join(dir, `${name}.crt`), keyFile: join(dir, `${name}.key`) };
}

/**
 * A leaf certificate signed by `ca`. Server certificates carry SANs for 127.0.0.1 and localhost
 * (KEDA checks the host of scalerAddress); `expired` gives a validity window that ended in 2020.
 */
export function makeLeaf(
  ca: CertificateAuthority,
  name: string,
  options: { server?: boolean; expired?: boolean; peer?: boolean } = {},
): KeyPair {
  const dir = ca.dir;
  const extFile = `${name}.ext`;
  writeFileSync(
    join(dir, extFile),
    options.server
      ? `subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth${options.peer ? ",clientAuth" : ""}\n`
      : "extendedKeyUsage=clientAuth\n",
  );
  openssl(
    [
      "req",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-subj",
      `/CN=${name}`,
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.csr`,
    ],
    dir,
  );
  const validity = options.expired
    ? ["-startdate", "20200101000000Z", "-enddate", "20200102000000Z"]
    : ["-days", "2"];
  openssl(
    [
      "ca",
      "-batch",
      "-notext",
      "-config",
      `${ca.name}.cnf`,
      "-in",
      `${name}.csr`,
      "-out",
      `${name}.crt`,
    ].concat(["-extfile", extFile, ...validity]),
    dir,
  );
  return { certFile: join(dir, `${name}.crt`), keyFile: join(dir, `${name}.key`) };
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function read(file: string): Buffer {
  return readFileSync(file);
}
