/** `node --import` entry: installs contract-loader for the contract run against the topology. */
import { register } from 'node:module';

register('./contract-loader.js', import.meta.url);
