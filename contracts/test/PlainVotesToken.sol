// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {ERC20Votes} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Votes.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";

/**
 * @title PlainVotesToken
 * @notice OpenZeppelin's ERC20Votes (block-number clock) with an open mint: the voting token of
 * `PlainGovernor`, the plain-Governor baseline of the governance gas bench (docs/benchmarks.md).
 * Tests and benches only.
 */
contract PlainVotesToken is ERC20, ERC20Permit, ERC20Votes {
    constructor() ERC20("Plain Votes", "PVOTE") ERC20Permit("Plain Votes") {}

    /// @notice Open mint: anyone may mint any amount to anyone.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function _update(address from, address to, uint256 value) internal override(ERC20, ERC20Votes) {
        super._update(from, to, value);
    }

    function nonces(address owner) public view override(ERC20Permit, Nonces) returns (uint256) {
        return super.nonces(owner);
    }
}
