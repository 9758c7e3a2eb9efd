export * from "./appImage";
export * from "./appService";
export * from "./destroyGuard";
export * from "./lernmanager";
export * from "./jobs";
export * from "./storage";
export * from "./web";
