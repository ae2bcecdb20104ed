/**
 * Small geometry helpers for the procedural default head: grids from functions, vertex colours,
 * relative morph targets, merging, and spheres with chosen rings.
 */

import * as THREE from 'three';

/** Paint a whole geometry one colour (for meshes sharing the vertex-coloured skin material). */
export function plain(geometry, hex) {
  const color = new THREE.Color(hex);
  paint(geometry, (i, c) => c.copy(color));
  return geometry;
}

/**
 * Add relative morph targets to `geometry`: for each name, `displace(i, name)` gives vertex
 * i's offset ([x, y, z]) at full weight.
 * @param {THREE.BufferGeometry} geometry
 * @param {string[]} names
 * @param {(i: number, name: string) => number[]} displace
 */
export function addMorphTargets(geometry, names, displace) {
  const count = geometry.getAttribute('position').count;
  geometry.morphAttributes.position = names.map((name) => {
    const data = new Float32Array(count * 3);
    for (let i = 0; i < count; i++) {
      const d = displace(i, name);
      data[3 * i] = d[0];
      data[3 * i + 1] = d[1];
      data[3 * i + 2] = d[2];
    }
    const attribute = new THREE.BufferAttribute(data, 3);
    attribute.name = name;
    return attribute;
  });
  geometry.morphTargetsRelative = true;
}

/** Colour attribute from a function of the vertex index. */
export function paint(geometry, colorOf) {
  const count = geometry.getAttribute('position').count;
  const data = new Float32Array(count * 3);
  const color = new THREE.Color();
  for (let i = 0; i < count; i++) {
    colorOf(i, color);
    color.toArray(data, 3 * i);
  }
  geometry.setAttribute('color', new THREE.BufferAttribute(data, 3));
}

/**
 * A grid geometry from a function (i, j) → [x, y, z], i in 0..nu, j in 0..nv; vertex k is
 * (k mod (nu + 1), floor(k / (nu + 1))). `closeU` welds the normals of the first and last column.
 */
export function gridGeometry(nu, nv, at, { closeU = false } = {}) {
  const positions = [];
  const uvs = [];
  for (let j = 0; j <= nv; j++) {
    for (let i = 0; i <= nu; i++) {
      positions.push(...at(i, j));
      uvs.push(i / nu, j / nv);
    }
  }
  const index = [];
  const row = nu + 1;
  for (let j = 0; j < nv; j++) {
    for (let i = 0; i < nu; i++) {
      const a = j * row + i;
      const b = a + 1;
      const c = a + row;
      const d = c + 1;
      index.push(a, c, b, b, c, d);
    }
  }
  const geometry = new THREE.BufferGeometry();
  geometry.setAttribute('position', new THREE.Float32BufferAttribute(positions, 3));
  geometry.setAttribute('uv', new THREE.Float32BufferAttribute(uvs, 2));
  geometry.setIndex(index);
  geometry.computeVertexNormals();
  if (closeU) weldSeamNormals(geometry, nu, nv);
  return geometry;
}

/** Average the normals of the first and last column of a grid closed in u. */
export function weldSeamNormals(geometry, nu, nv) {
  const n = geometry.getAttribute('normal');
  const a = new THREE.Vector3();
  const b = new THREE.Vector3();
  for (let j = 0; j <= nv; j++) {
    const first = j * (nu + 1);
    const last = first + nu;
    a.fromBufferAttribute(n, first);
    b.fromBufferAttribute(n, last);
    a.add(b).normalize();
    n.setXYZ(first, a.x, a.y, a.z);
    n.setXYZ(last, a.x, a.y, a.z);
  }
}

/** Average normals across both seams of a torus-like grid (closed in both directions). */
export function weldSeams(geometry, nu, nv) {
  weldSeamNormals(geometry, nu, nv);
  const n = geometry.getAttribute('normal');
  const a = new THREE.Vector3();
  const b = new THREE.Vector3();
  const row = nu + 1;
  for (let i = 0; i <= nu; i++) {
    a.fromBufferAttribute(n, i);
    b.fromBufferAttribute(n, nv * row + i);
    a.add(b).normalize();
    n.setXYZ(i, a.x, a.y, a.z);
    n.setXYZ(nv * row + i, a.x, a.y, a.z);
  }
}

/** Concatenate indexed geometries with position (and normal) attributes. */
export function mergeGeometries(parts) {
  const positions = [];
  const normals = [];
  const index = [];
  let offset = 0;
  for (const part of parts) {
    const p = part.getAttribute('position');
    const n = part.getAttribute('normal');
    for (let k = 0; k < p.count; k++) {
      positions.push(p.getX(k), p.getY(k), p.getZ(k));
      normals.push(n.getX(k), n.getY(k), n.getZ(k));
    }
    for (const i of part.getIndex().array) index.push(i + offset);
    offset += p.count;
  }
  const geometry = new THREE.BufferGeometry();
  geometry.setAttribute('position', new THREE.Float32BufferAttribute(positions, 3));
  geometry.setAttribute('normal', new THREE.Float32BufferAttribute(normals, 3));
  geometry.setIndex(index);
  return geometry;
}

/** A sphere as a lathe with its pole forward, rings at chosen polar angles (degrees). */
export function lathedSphere(radius, degrees, segments, phiStart = Math.PI) {
  // Lathe profiles run bottom to top for outward faces: from the back pole to the front.
  const points = [...degrees].reverse().map((d) => {
    const a = (d * Math.PI) / 180;
    return new THREE.Vector2(radius * Math.sin(a), radius * Math.cos(a));
  });
  return new THREE.LatheGeometry(points, segments, phiStart, 2 * Math.PI);
}

/** Set the normals of a sphere centred on the origin analytically (no seams). */
export function sphereNormals(geometry) {
  const pos = geometry.getAttribute('position');
  const normal = geometry.getAttribute('normal');
  const v = new THREE.Vector3();
  for (let k = 0; k < pos.count; k++) {
    v.fromBufferAttribute(pos, k).normalize();
    normal.setXYZ(k, v.x, v.y, v.z);
  }
}
