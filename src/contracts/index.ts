/** rxon contracts: public entry point of this room. */
export {};
