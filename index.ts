// Lernmanager on one Docker host: nginx in front of gunicorn, SQLite on a volume.
// Everything is declared in components/; config is read and validated in config/load.ts.
import { main } from "./program";

const outputs = main();

export const url = outputs.url;
export const appVersion = outputs.appVersion;
export const appImage = outputs.appImage;
export const appContainer = outputs.appContainer;
export const nginxContainer = outputs.nginxContainer;
export const volumes = outputs.volumes;
// Replaced the app's default admin password: `pulumi stack output adminPassword --show-secrets`.
export const adminPassword = outputs.adminPassword;
// tls internal: the school CA's SHA-256 fingerprint, for the teachers' handout (docs/schul-ca-merkblatt.md).
export const schoolCaFingerprint = outputs.schoolCaFingerprint;
