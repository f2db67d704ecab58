import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

function openssl(args: string[], cwd: string): void {
  execFileSync("openssl", args, { cwd, stdio: "pipe" });
}

export interface CertificateAuthority {
  readonly dir: string;
  readonly name: string;
  readonly certFile: string;
  readonly keyFile: string;
}

export function makeCa(dir: string, name: string): CertificateAuthority {
  openssl(
    [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-days",
      "2",
      "-subj",
      `/CN=${name}`,
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.crt`,
    ],
    dir,
  );
  return { dir, name, certFile: join(dir, `${name}.crt`), keyFile: join(dir, `${name}.key`) };
}

/**
 * A leaf certificate signed by `ca`. Server certificates carry SANs for 127.0.0.1 and localhost
 * (KEDA checks the host of scalerAddress); `expired` back-dates the validity window.
 */
export function makeLeaf(
  ca: CertificateAuthority,
  name: string,
  options: { server?: boolean; expired?: boolean } = {},
): { certFile: string; keyFile: string } {
  const dir = ca.dir;
  const extFile = join(dir, `${name}.ext`);
  writeFileSync(
    extFile,
    options.server
      ? "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n"
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
    ? ["-not_before", "20200101000000Z", "-not_after", "20200102000000Z"]
    : ["-days", "2"];
  openssl(
    [
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      ca.certFile,
      "-CAkey",
      ca.keyFile,
      "-CAcreateserial",
      "-out",
      `${name}.crt`,
      "-extfile",
      extFile,
      ...validity,
    ],
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
