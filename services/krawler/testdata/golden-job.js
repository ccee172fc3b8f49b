module.exports = { id: "golden" }
