/** rxon hub: public entry point of this room. */
export {};
