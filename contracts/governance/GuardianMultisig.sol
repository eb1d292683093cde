// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Address} from "@openzeppelin/contracts/utils/Address.sol";

/**
 * @title GuardianMultisig
 * @notice A small M-of-N wallet for the guardian role (never an EOA): an owner submits a call, owners
 * confirm it, and once `threshold` current owners confirmed, any owner executes it, once. The owners
 * and the threshold are fixed at deployment and change only by a call this wallet makes to itself
 * (i.e. with the threshold's agreement).
 *
 * Confirmations are counted among the current owners at execution: an owner removed meanwhile no
 * longer counts.
 */
contract GuardianMultisig {
    /// @notice Most owners (bounds the gas of counting confirmations).
    uint256 public constant MAX_OWNERS = 20;

    /**
     * @notice A submitted call.
     * @param target Contract called.
     * @param executed True once it ran (it never runs again).
     * @param value Native value sent.
     * @param data Calldata.
     */
    struct Transaction {
        address target;
        bool executed;
        uint256 value;
        bytes data;
    }

    address[] private _owners;
    mapping(address account => bool) private _isOwner;
    /// @notice Confirmations a transaction needs.
    uint256 public threshold;
    Transaction[] private _transactions;
    mapping(uint256 txId => mapping(address owner => bool)) private _confirmed;

    /// @notice `owner` submitted transaction `txId` (and confirmed it).
    event Submitted(
        uint256 indexed txId,
        address indexed owner,
        address indexed target,
        uint256 value,
        bytes data
    );
    /// @notice `owner` confirmed `txId`.
    event Confirmed(uint256 indexed txId, address indexed owner);
    /// @notice `owner` withdrew its confirmation of `txId`.
    event Revoked(uint256 indexed txId, address indexed owner);
    /// @notice `txId` ran.
    event Executed(uint256 indexed txId, address indexed executor);
    /// @notice `owner` joined the owners.
    event OwnerAdded(address indexed owner);
    /// @notice `owner` left the owners.
    event OwnerRemoved(address indexed owner);
    /// @notice The threshold changed.
    event ThresholdChanged(uint256 threshold);

    /// @notice Only an owner may do this.
    error NotOwner(address caller);
    /// @notice Only the wallet itself (a transaction the owners executed) changes owners and threshold.
    error NotSelf(address caller);
    /// @notice No such transaction.
    error UnknownTransaction(uint256 txId);
    /// @notice The transaction ran already.
    error AlreadyExecuted(uint256 txId);
    /// @notice The owner confirmed it already.
    error AlreadyConfirmed(uint256 txId, address owner);
    /// @notice The owner had not confirmed it.
    error NotConfirmed(uint256 txId, address owner);
    /// @notice Fewer current owners confirmed than the threshold.
    error BelowThreshold(uint256 txId, uint256 confirmations, uint256 threshold);
    /// @notice The threshold must be 1 … the number of owners.
    error InvalidThreshold(uint256 threshold, uint256 owners);
    /// @notice Owners must be 1 … MAX_OWNERS non-zero, distinct addresses.
    error InvalidOwner(address owner);
    /// @notice Too many owners.
    error TooManyOwners(uint256 owners, uint256 max);

    modifier onlyOwner() {
        if (!_isOwner[msg.sender]) revert NotOwner(msg.sender);
        _;
    }

    modifier onlySelf() {
        if (msg.sender != address(this)) revert NotSelf(msg.sender);
        _;
    }

    /**
     * @param owners_ The owners (distinct, non-zero, at most MAX_OWNERS).
     * @param threshold_ Confirmations needed, 1 … owners.
     */
    constructor(address[] memory owners_, uint256 threshold_) {
        if (owners_.length > MAX_OWNERS) revert TooManyOwners(owners_.length, MAX_OWNERS);
        for (uint256 i = 0; i < owners_.length; ++i) _addOwner(owners_[i]);
        _setThreshold(threshold_);
    }

    /// @notice Accepts native value (a call may need to send some).
    receive() external payable {}

    // ─────────────────────────────────────────── Owners ─────────────────────────────────────────────

    /**
     * @notice Submits a call and confirms it as the caller.
     * @param target Contract to call.
     * @param value Native value to send.
     * @param data Calldata.
     * @return txId The transaction's id.
     */
    function submit(
        address target,
        uint256 value,
        bytes calldata data
    ) external onlyOwner returns (uint256 txId) {
        txId = _transactions.length;
        _transactions.push(Transaction(target, false, value, data));
        emit Submitted(txId, msg.sender, target, value, data);
        _confirm(txId);
    }

    /// @notice Confirms transaction `txId`.
    function confirm(uint256 txId) external onlyOwner {
        _pending(txId);
        _confirm(txId);
    }

    /// @notice Withdraws the caller's confirmation of `txId` (before it ran).
    function revoke(uint256 txId) external onlyOwner {
        _pending(txId);
        if (!_confirmed[txId][msg.sender]) revert NotConfirmed(txId, msg.sender);
        _confirmed[txId][msg.sender] = false;
        emit Revoked(txId, msg.sender);
    }

    /**
     * @notice Runs `txId` once `threshold` current owners confirmed it. Reverts with the call's own
     * revert data if it fails (the transaction then stays pending).
     * @param txId The transaction.
     * @return result The call's return data.
     */
    function execute(uint256 txId) external onlyOwner returns (bytes memory result) {
        Transaction storage t = _pending(txId);
        uint256 count = confirmations(txId);
        if (count < threshold) revert BelowThreshold(txId, count, threshold);
        // Marked before the call: the call cannot run it again by re-entering.
        t.executed = true;
        emit Executed(txId, msg.sender);
        result = Address.functionCallWithValue(t.target, t.data, t.value);
    }

    // ─────────────────────────────────────────── Self ───────────────────────────────────────────────

    /// @notice Adds an owner. Only through a transaction of this wallet.
    function addOwner(address owner) external onlySelf {
        if (_owners.length >= MAX_OWNERS) revert TooManyOwners(_owners.length + 1, MAX_OWNERS);
        _addOwner(owner);
    }

    /// @notice Removes an owner (the threshold must still be reachable). Only through a transaction of this wallet.
    function removeOwner(address owner) external onlySelf {
        if (!_isOwner[owner]) revert InvalidOwner(owner);
        uint256 n = _owners.length;
        if (n - 1 < threshold) revert InvalidThreshold(threshold, n - 1);
        for (uint256 i = 0; i < n; ++i) {
            if (_owners[i] == owner) {
                _owners[i] = _owners[n - 1];
                _owners.pop();
                break;
            }
        }
        _isOwner[owner] = false;
        emit OwnerRemoved(owner);
    }

    /// @notice Changes the threshold (1 … owners). Only through a transaction of this wallet.
    function changeThreshold(uint256 threshold_) external onlySelf {
        _setThreshold(threshold_);
    }

    // ───────────────────────────────────────────── Views ─────────────────────────────────────────────

    /// @notice The owners.
    function owners() external view returns (address[] memory) {
        return _owners;
    }

    /// @notice Whether `account` is an owner.
    function isOwner(address account) external view returns (bool) {
        return _isOwner[account];
    }

    /// @notice Number of transactions submitted.
    function transactionCount() external view returns (uint256) {
        return _transactions.length;
    }

    /// @notice Transaction `txId`.
    function transaction(uint256 txId) external view returns (Transaction memory) {
        if (txId >= _transactions.length) revert UnknownTransaction(txId);
        return _transactions[txId];
    }

    /// @notice Whether `owner` confirmed `txId`.
    function isConfirmed(uint256 txId, address owner) external view returns (bool) {
        return _confirmed[txId][owner];
    }

    /// @notice Confirmations of `txId` by current owners.
    function confirmations(uint256 txId) public view returns (uint256 count) {
        uint256 n = _owners.length;
        for (uint256 i = 0; i < n; ++i) {
            if (_confirmed[txId][_owners[i]]) ++count;
        }
    }

    // ─────────────────────────────────────────── Internals ───────────────────────────────────────────

    function _pending(uint256 txId) private view returns (Transaction storage t) {
        if (txId >= _transactions.length) revert UnknownTransaction(txId);
        t = _transactions[txId];
        if (t.executed) revert AlreadyExecuted(txId);
    }

    function _confirm(uint256 txId) private {
        if (_confirmed[txId][msg.sender]) revert AlreadyConfirmed(txId, msg.sender);
        _confirmed[txId][msg.sender] = true;
        emit Confirmed(txId, msg.sender);
    }

    function _addOwner(address owner) private {
        if (owner == address(0) || _isOwner[owner]) revert InvalidOwner(owner);
        _isOwner[owner] = true;
        _owners.push(owner);
        emit OwnerAdded(owner);
    }

    function _setThreshold(uint256 threshold_) private {
        if (threshold_ == 0 || threshold_ > _owners.length)
            revert InvalidThreshold(threshold_, _owners.length);
        threshold = threshold_;
        emit ThresholdChanged(threshold_);
    }
}
