export * from "./appImage";
export * from "./appService";
export * from "./destroyGuard";
export * from "./lernmanager";
export * from "./scheduler";
export * from "./storage";
export * from "./webServer";
