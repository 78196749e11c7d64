import { describe, expect, it } from 'vitest';
import { debianMirror, IMAGE_PACKAGES, nodeImageTag } from '../../src/sim/backends/docker-image.js';

describe('the node image of the docker backend', () => {
  it('is tagged by its inputs: the same packages (in any order) the same tag, others another', () => {
    expect(nodeImageTag()).toMatch(/^calico-sim-node:[0-9a-f]{12}$/);
    expect(nodeImageTag([...IMAGE_PACKAGES].reverse())).toBe(nodeImageTag());
    expect(nodeImageTag([...IMAGE_PACKAGES, 'curl'])).not.toBe(nodeImageTag());
  });

  it("is bootstrapped from the machine's Debian mirror, one-line or deb822 sources (not the security one)", () => {
    expect(debianMirror('# comment\ndeb http://deb.debian.org/debian bookworm main\ndeb http://deb.debian.org/debian-security bookworm-security main\n')).toBe('http://deb.debian.org/debian');
    expect(debianMirror('deb [arch=amd64 signed-by=/k.gpg] http://mirror.example/debian/ bookworm main')).toBe('http://mirror.example/debian');
    expect(debianMirror('Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\nComponents: main\n')).toBe('http://deb.debian.org/debian');
    expect(debianMirror('Types: deb\nURIs: http://deb.debian.org/debian-security\nComponents: main\n')).toBeUndefined();
    expect(debianMirror('deb https://download.docker.com/linux/debian bookworm stable')).toBeUndefined();
    // Not Debian bookworm: an Ubuntu archive, another suite.
    expect(debianMirror('deb http://archive.ubuntu.com/ubuntu jammy main')).toBeUndefined();
    expect(debianMirror('deb http://deb.debian.org/debian trixie main')).toBeUndefined();
  });
});
